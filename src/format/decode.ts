import { fieldToSigned } from '../circuit/witness.js';
import type { Prediction } from './bundle.js';
import type { ZkinferKey } from './key.js';

/** What the proved public signals say, decoded with the key's layout and scales (never the weights). */
export interface DecodedOutput {
  prediction: Prediction;
  /** The input integers the proof is about (public in this mode). */
  input: number[];
}

export const ARGMAX_NOTE = 'class = first index of the maximum logit (argmax replaces softmax, which does not change the class)';

export function decodePublicSignals(key: ZkinferKey, publicSignals: string[]): DecodedOutput {
  const l = key.publicSignals;
  const logits = publicSignals.slice(l.logitsOffset, l.logitsOffset + l.logits).map((s) => fieldToSigned(s));
  const cls = Number(publicSignals[l.classIndex]);
  const input = publicSignals.slice(l.inputOffset, l.inputOffset + l.inputs).map(Number);
  const label = key.model.labels?.[cls];
  return {
    prediction: {
      class: cls,
      ...(label !== undefined ? { label } : {}),
      logits: logits.map(String),
      scores: logits.map((v) => Number(v) * key.model.logitScale),
      note: ARGMAX_NOTE,
    },
    input,
  };
}
