// zkinfer bundle verification for the browser: the same checks as src/verify/index.ts, in plain JS with
// no dependencies but a snarkjs Groth16 verifier and WebCrypto, so it runs in a static page and in Node.
// Input: the key and the bundle as parsed JSON values. Output: { valid, reason?, modelId?, output? }.

export const FIELD_P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
const HEX64 = /^[0-9a-f]{64}$/;
const DECIMAL = /^(0|[1-9]\d*)$/;
const SIGNED_DECIMAL = /^(0|-?[1-9]\d*)$/;

/** A malformed key: the verifier's own configuration is wrong, not the prover's claim. */
export class KeyError extends Error {}
/** A malformed bundle: an invalid verdict. */
class BundleError extends Error {}

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v, min = 0) => Number.isInteger(v) && v >= min;

/** JSON with object keys sorted at every level: the model id is SHA-256 of this (src/util/fs.ts canonicalJson). */
export function canonicalJson(value) {
  return JSON.stringify(value, (_k, v) => {
    if (isObj(v)) {
      const sorted = {};
      for (const k of Object.keys(v).sort()) sorted[k] = v[k];
      return sorted;
    }
    return v;
  });
}

export async function sha256Hex(text, subtle = globalThis.crypto.subtle) {
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function need(cond, Err, message) {
  if (!cond) throw new Err(message);
}

function decimalArray(v, path, len, Err) {
  need(Array.isArray(v) && (len === undefined || v.length === len), Err, `${path}: expected an array${len === undefined ? '' : ` of ${len}`}`);
  v.forEach((s, i) => need(typeof s === 'string' && DECIMAL.test(s), Err, `${path}[${i}]: expected a canonical decimal integer string`));
}

export function checkKey(key) {
  const E = KeyError;
  const m = (p) => `malformed verification key: ${p}`;
  need(isObj(key), E, m('expected a JSON object'));
  need(key.format === 'zkinfer-key', E, m(`format: expected "zkinfer-key"`));
  need(key.version === 1, E, m(`version: unsupported version ${JSON.stringify(key.version)} (this page reads version 1)`));
  need(key.protocol === 'groth16' && key.curve === 'bn128', E, m('expected protocol groth16 on curve bn128'));
  need(isObj(key.model) && isInt(key.model.outputSize, 2) && typeof key.model.logitScale === 'number', E, m('model: missing outputSize or logitScale'));
  need(key.model.labels === undefined || (Array.isArray(key.model.labels) && key.model.labels.every((l) => typeof l === 'string')), E, m('model.labels: expected an array of strings'));
  const l = key.publicSignals;
  need(isObj(l), E, m('publicSignals: expected the public-signal layout'));
  for (const f of ['batch', 'logitsOffset', 'logits', 'classIndex', 'inputOffset', 'inputs', 'total']) need(isInt(l[f], f === 'batch' || f === 'total' ? 1 : 0), E, m(`publicSignals.${f}: expected a non-negative integer`));
  need(Number.isInteger(l.commitmentIndex) && l.commitmentIndex >= -1, E, m('publicSignals.commitmentIndex: expected an integer >= -1'));
  need(isObj(l.visibility) && ['public', 'private'].includes(l.visibility.input) && ['logits', 'class'].includes(l.visibility.output), E, m('publicSignals.visibility: expected {input, output}'));
  need(l.visibility.weights === undefined || ['constant', 'private'].includes(l.visibility.weights), E, m('publicSignals.visibility.weights: expected "constant" or "private"'));
  if (l.visibility.weights === 'private') need(isInt(l.weightsCommitmentIndex) && l.weightsCommitmentIndex < l.total, E, m('publicSignals.weightsCommitmentIndex: expected the index of the weights commitment'));
  const vk = key.vkey;
  need(isObj(vk) && vk.protocol === 'groth16' && vk.curve === 'bn128' && Array.isArray(vk.IC), E, m('vkey: expected a snarkjs Groth16 bn128 key'));
  need(vk.nPublic === l.total && vk.IC.length === l.total + 1, E, m(`vkey.nPublic (${vk.nPublic}) does not match publicSignals.total (${l.total})`));
}

function checkPrediction(p, path) {
  need(isObj(p), BundleError, `${path}: expected an object`);
  need(isInt(p.class), BundleError, `${path}.class: expected a non-negative integer`);
  need(Array.isArray(p.logits), BundleError, `${path}.logits: expected an array`);
  p.logits.forEach((s, i) => need(typeof s === 'string' && SIGNED_DECIMAL.test(s), BundleError, `${path}.logits[${i}]: expected a canonical integer string`));
}

function checkBundle(b) {
  const E = BundleError;
  need(isObj(b), E, 'expected a JSON object');
  need(b.format === 'zkinfer-proof', E, 'format: expected "zkinfer-proof"');
  need(b.version === 1, E, `version: unsupported version ${JSON.stringify(b.version)} (this page reads version 1)`);
  need(b.protocol === 'groth16' && b.curve === 'bn128', E, 'expected protocol groth16 on curve bn128');
  need(typeof b.modelId === 'string' && HEX64.test(b.modelId), E, 'modelId: expected a 64-digit hex SHA-256');
  need(isObj(b.visibility), E, 'visibility: expected {input, output}');
  decimalArray(b.publicSignals, 'publicSignals', undefined, E);
  need(b.publicSignals.length > 0, E, 'publicSignals: expected at least one signal');
  need(isObj(b.proof) && b.proof.protocol === 'groth16' && b.proof.curve === 'bn128', E, 'proof: expected a snarkjs Groth16 bn128 proof');
  decimalArray(b.proof.pi_a, 'proof.pi_a', 3, E);
  need(Array.isArray(b.proof.pi_b) && b.proof.pi_b.length === 3, E, 'proof.pi_b: expected an array of 3');
  b.proof.pi_b.forEach((row, i) => decimalArray(row, `proof.pi_b[${i}]`, 2, E));
  decimalArray(b.proof.pi_c, 'proof.pi_c', 3, E);
  checkPrediction(b.prediction, 'prediction');
  if (b.items !== undefined) {
    need(Array.isArray(b.items) && b.items.length >= 2, E, 'items: expected an array of at least 2');
    b.items.forEach((p, i) => checkPrediction(p, `items[${i}]`));
  }
  if (b.inputCommitments !== undefined) decimalArray(b.inputCommitments, 'inputCommitments', undefined, E);
  need(b.keyId === undefined || (typeof b.keyId === 'string' && HEX64.test(b.keyId)), E, 'keyId: expected a 64-digit hex SHA-256');
  need(b.weightsCommitment === undefined || (typeof b.weightsCommitment === 'string' && DECIMAL.test(b.weightsCommitment)), E, 'weightsCommitment: expected a canonical decimal integer string');
}

/**
 * Which model a bundle claims, against the key and what was proved (src/weights/modelId.ts): a constant-weights
 * bundle's modelId is the key's id; a private-weights one names its key in keyId, and its modelId is the
 * proved weights commitment in hex. Returns the reason it does not match, or null.
 */
function modelIdProblem(key, keyId, bundle) {
  const short = (id) => `${id.slice(0, 16)}…`;
  if (key.publicSignals.visibility.weights !== 'private') {
    if (bundle.keyId !== undefined) return 'keyId is only used by private-weights proofs; this key has constant weights';
    return bundle.modelId === keyId ? null : `bundle is for model ${short(bundle.modelId)}, the key is for model ${short(keyId)}`;
  }
  if (bundle.keyId !== keyId) return bundle.keyId === undefined ? 'a private-weights bundle must name its key (keyId)' : `bundle is for key ${short(bundle.keyId)}, this key is ${short(keyId)}`;
  const signal = bundle.publicSignals[key.publicSignals.weightsCommitmentIndex];
  if (signal === undefined) return null; // a short signal list is reported by the length check
  const proved = BigInt(signal).toString(16).padStart(64, '0');
  return bundle.modelId === proved ? null : `bundle claims model ${short(bundle.modelId)}, the proved weights commitment is model ${short(proved)}`;
}

const fieldToSigned = (s) => {
  const x = BigInt(s);
  return x > FIELD_P / 2n ? x - FIELD_P : x;
};

/** The proved output, decoded with the key's layout and scales (src/format/decode.ts). */
export function decodePublicSignals(key, signals) {
  const l = key.publicSignals;
  const items = [];
  for (let b = 0; b < l.batch; b++) {
    const from = l.logitsOffset + b * l.logits;
    const logits = signals.slice(from, from + l.logits).map(fieldToSigned);
    const cls = Number(signals[l.classIndex + b]);
    const label = key.model.labels?.[cls];
    items.push({
      prediction: { class: cls, ...(label !== undefined ? { label } : {}), logits: logits.map(String), scores: logits.map((v) => Number(v) * key.model.logitScale) },
      ...(l.commitmentIndex >= 0 ? { inputCommitment: signals[l.commitmentIndex + b] } : {}),
    });
  }
  const w = l.weightsCommitmentIndex;
  return { ...items[0], items, ...(w !== undefined ? { weightsCommitment: signals[w] } : {}) };
}

function claimsMatch(decoded, bundle) {
  const same = (a, b) => a.class === b.class && a.logits.join() === b.logits.join();
  const predictions = decoded.items.map((i) => i.prediction);
  const commitments = decoded.items.map((i) => i.inputCommitment).filter((c) => c !== undefined);
  if (!same(predictions[0], bundle.prediction)) return false;
  if (predictions.length > 1 ? !(bundle.items && bundle.items.length === predictions.length && bundle.items.every((p, i) => same(predictions[i], p))) : bundle.items !== undefined) return false;
  if (commitments.length > 0 ? !(bundle.inputCommitments && bundle.inputCommitments.join() === commitments.join()) : bundle.inputCommitments !== undefined) return false;
  return decoded.weightsCommitment === bundle.weightsCommitment;
}

/**
 * Verify a bundle with a key. `groth16Verify` is snarkjs.groth16.verify (the browser build's in the page).
 * Throws KeyError for a malformed key; anything wrong with the bundle is { valid: false, reason }.
 */
export async function verifyBundle(key, bundle, { groth16Verify, subtle = globalThis.crypto.subtle }) {
  checkKey(key);
  const keyId = await sha256Hex(canonicalJson(key), subtle);
  const invalid = (reason, withId = true) => ({ valid: false, reason, ...(withId ? { modelId: keyId } : {}) });
  try {
    checkBundle(bundle);
  } catch (err) {
    if (err instanceof BundleError) return invalid(`malformed proof bundle: ${err.message}`, false);
    throw err;
  }
  const idProblem = modelIdProblem(key, keyId, bundle);
  if (idProblem) return invalid(idProblem, false);
  const signals = bundle.publicSignals;
  if (signals.length !== key.publicSignals.total) return invalid(`bundle has ${signals.length} public signals, the key expects ${key.publicSignals.total}`);
  // Values >= p would verify as their residue: reject them so each statement has one encoding.
  const bad = signals.findIndex((s) => BigInt(s) >= FIELD_P);
  if (bad >= 0) return invalid(`publicSignals[${bad}] is not a canonical field element`);
  let ok = false;
  try {
    ok = await groth16Verify(key.vkey, signals, bundle.proof);
  } catch (err) {
    return invalid(`malformed proof: ${err?.message ?? err}`);
  }
  if (!ok) return invalid('the Groth16 proof does not verify against the public signals and key');
  const output = decodePublicSignals(key, signals);
  const kv = key.publicSignals.visibility;
  if (bundle.visibility.input !== kv.input || bundle.visibility.output !== kv.output || (bundle.visibility.weights ?? 'constant') !== (kv.weights ?? 'constant')) {
    return invalid(`the bundle's visibility does not match the key's`);
  }
  if (!claimsMatch(output, bundle)) return invalid(`the bundle's prediction (class ${bundle.prediction.class}) differs from the proved output (class ${output.prediction.class})`);
  return { valid: true, modelId: kv.weights === 'private' ? bundle.modelId : keyId, keyId, output, insecureSetup: key.setup?.ptau?.insecure === true };
}
