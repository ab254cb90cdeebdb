import { fieldToSigned } from '../circuit/witness.js';
import type { Prediction } from './bundle.js';
import type { ZkinferKey } from './key.js';

/** One inference as the proved public signals state it. */
export interface DecodedItem {
  prediction: Prediction;
  /** The input integers the proof is about (public in this mode). */
  input: number[];
}

/** What the proved public signals say, decoded with the key's layout and scales (never the weights). */
export interface DecodedOutput extends DecodedItem {
  /** Every item of a batch proof (one entry for a single proof); prediction/input above are items[0]. */
  items: DecodedItem[];
}

export const ARGMAX_NOTE = 'class = first index of the maximum logit (argmax replaces softmax, which does not change the class)';

export function decodePublicSignals(key: ZkinferKey, publicSignals: string[]): DecodedOutput {
  const l = key.publicSignals;
  const items: DecodedItem[] = [];
  for (let b = 0; b < l.batch; b++) {
    const from = l.logitsOffset + b * l.logits;
    const logits = publicSignals.slice(from, from + l.logits).map((s) => fieldToSigned(s));
    const cls = Number(publicSignals[l.classIndex + b]);
    const label = key.model.labels?.[cls];
    items.push({
      prediction: {
        class: cls,
        ...(label !== undefined ? { label } : {}),
        logits: logits.map(String),
        scores: logits.map((v) => Number(v) * key.model.logitScale),
        note: ARGMAX_NOTE,
      },
      input: publicSignals.slice(l.inputOffset + b * l.inputs, l.inputOffset + (b + 1) * l.inputs).map(Number),
    });
  }
  return { ...items[0], items };
}

/** True when a bundle's prediction fields state exactly what the proved output says. */
export function predictionsMatch(decoded: DecodedOutput, prediction: Prediction, items: Prediction[] | undefined): boolean {
  const same = (a: Prediction, b: Prediction) => a.class === b.class && a.logits.join() === b.logits.join();
  if (!same(prediction, decoded.prediction)) return false;
  if (decoded.items.length === 1) return items === undefined;
  return items !== undefined && items.length === decoded.items.length && items.every((p, i) => same(p, decoded.items[i].prediction));
}
