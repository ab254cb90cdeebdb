import { canonicalJson } from './canonical.js';
import { fieldToSigned } from './field.js';
import type { Prediction } from './bundle.js';
import type { ZkinferKey } from './key.js';

/** One inference as the proved public signals state it. */
export interface DecodedItem {
  prediction: Prediction;
  /** The input integers the proof is about, when inputs are public. */
  input?: number[];
  /** The salted Poseidon commitment to the input, when inputs are private. */
  inputCommitment?: string;
  /** A split model's chunk: the salted Poseidon commitment to its outputs (the next chunk's input commitment). */
  outputCommitment?: string;
  /** Graph models: every graph output, dequantized (the proved integers times each output's scale). */
  outputs?: GraphOutputValues[];
}

export interface GraphOutputValues {
  name: string;
  shape: number[];
  values: number[];
}

export const GRAPH_NOTE = "outputs = proved integers x each output's scale (key.model.outputs); class = first index of the maximum, when the key has one";

/** Split a graph model's output integers into its named outputs, dequantized. */
export function graphOutputs(key: ZkinferKey, ints: bigint[]): GraphOutputValues[] | undefined {
  if (!key.model.outputs || ints.length === 0) return undefined;
  let k = 0;
  return key.model.outputs.map((o) => {
    const n = o.shape.reduce((a, b) => a * b, 1);
    const values = ints.slice(k, k + n).map((v) => Number(v) * o.scale);
    k += n;
    return { name: o.name, shape: o.shape, values };
  });
}

/** What the proved public signals say, decoded with the key's layout and scales (never the weights). */
export interface DecodedOutput extends DecodedItem {
  /** Every item of a batch proof (one entry for a single proof); prediction/input above are items[0]. */
  items: DecodedItem[];
  /** Private-weights proofs: the Poseidon commitment to the weights (the proof's model id, in decimal). */
  weightsCommitment?: string;
}

export const ARGMAX_NOTE = 'class = first index of the maximum logit (argmax replaces softmax, which does not change the class)';

export function decodePublicSignals(key: ZkinferKey, publicSignals: string[]): DecodedOutput {
  const l = key.publicSignals;
  const items: DecodedItem[] = [];
  for (let b = 0; b < l.batch; b++) {
    const from = l.logitsOffset + b * l.logits;
    const logits = publicSignals.slice(from, from + l.logits).map((s) => fieldToSigned(s));
    const cls = l.classIndex >= 0 ? Number(publicSignals[l.classIndex + b]) : undefined;
    const label = cls !== undefined ? key.model.labels?.[cls] : undefined;
    const outputs = graphOutputs(key, logits);
    items.push({
      prediction: {
        ...(cls !== undefined ? { class: cls } : {}),
        ...(label !== undefined ? { label } : {}),
        logits: logits.map(String),
        scores: outputs ? outputs.flatMap((o) => o.values) : logits.map((v) => Number(v) * key.model.logitScale),
        note: key.model.outputs ? GRAPH_NOTE : ARGMAX_NOTE,
      },
      ...(outputs ? { outputs } : {}),
      ...(l.inputs > 0 ? { input: publicSignals.slice(l.inputOffset + b * l.inputs, l.inputOffset + (b + 1) * l.inputs).map(Number) } : {}),
      ...(l.commitmentIndex >= 0 ? { inputCommitment: publicSignals[l.commitmentIndex + b] } : {}),
      ...(l.outputCommitmentIndex !== undefined ? { outputCommitment: publicSignals[l.outputCommitmentIndex + b] } : {}),
    });
  }
  const w = l.weightsCommitmentIndex;
  return { ...items[0], items, ...(w !== undefined ? { weightsCommitment: publicSignals[w] } : {}) };
}

/** The bundle's convenience fields (prediction, items, input commitments) as the proved signals imply them. */
export function bundleClaims(decoded: DecodedOutput): {
  prediction: Prediction;
  outputs?: GraphOutputValues[];
  items?: Prediction[];
  inputCommitments?: string[];
  weightsCommitment?: string;
} {
  const commitments = decoded.items.map((i) => i.inputCommitment).filter((c): c is string => c !== undefined);
  return {
    prediction: decoded.prediction,
    ...(decoded.outputs ? { outputs: decoded.outputs } : {}),
    ...(decoded.items.length > 1 ? { items: decoded.items.map((i) => i.prediction) } : {}),
    ...(commitments.length > 0 ? { inputCommitments: commitments } : {}),
    ...(decoded.weightsCommitment !== undefined ? { weightsCommitment: decoded.weightsCommitment } : {}),
  };
}

type Claims = ReturnType<typeof bundleClaims>;
const CLAIM_FIELDS = ['prediction', 'outputs', 'items', 'inputCommitments', 'weightsCommitment'] as const;
const PREDICTION_FIELDS = ['class', 'label', 'logits', 'scores', 'note'] as const;

/**
 * The first field where a bundle's convenience copy differs from what the proved signals decode to (e.g.
 * `prediction.label`, `items[1].scores`), or null when every field (class, label, logits, scores, note,
 * outputs, items, commitments) is exactly what the proof says. Nothing a bundle states goes unchecked.
 */
export function claimsMismatch(decoded: DecodedOutput, bundle: Partial<Claims>): string | null {
  const expected: Partial<Claims> = bundleClaims(decoded);
  const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);
  const predictionField = (where: string, a: Prediction | undefined, b: Prediction | undefined) => {
    if (!a || !b) return same(a, b) ? null : where;
    const f = PREDICTION_FIELDS.find((k) => !same(a[k], b[k]));
    return f ? `${where}.${f}` : null;
  };
  for (const field of CLAIM_FIELDS) {
    if (same(expected[field], bundle[field])) continue;
    if (field === 'prediction') return predictionField('prediction', expected.prediction, bundle.prediction) ?? field;
    if (field === 'items' && expected.items && bundle.items && expected.items.length === bundle.items.length) {
      for (let i = 0; i < expected.items.length; i++) {
        const where = predictionField(`items[${i}]`, expected.items[i], bundle.items[i]);
        if (where) return where;
      }
    }
    return field;
  }
  return null;
}
