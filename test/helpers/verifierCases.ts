import { BASE_Q, FIELD_P, modelIdOf } from '../../src/verify/core.js';
import type { ProofBundle, ZkinferKey } from '../../src/verify/core.js';

/**
 * The shared set of good and bad (key, bundle) pairs on which the library (src/verify), the browser build
 * of the verifier core in Node, and the page in headless Chromium must give the same verdict. Each attack
 * a hostile user tried is here: a coordinate + q, a Jacobian rescaling of pi_a, fake label/scores/note,
 * unknown fields, a key with an extra field (hashed raw vs stripped), vkey.IC one short, version 2, ...
 *
 * expect: 'valid'; { reason } for an invalid verdict; { keyError } for a key the verifier must refuse.
 */
export type Expectation = 'valid' | { reason: RegExp } | { keyError: RegExp };
export interface VerifierCase {
  name: string;
  key: unknown;
  bundle: unknown;
  expect: Expectation;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const clone = <T>(v: T): T & Json => JSON.parse(JSON.stringify(v));
const mod = (x: bigint, m: bigint) => ((x % m) + m) % m;

/** pi_a in Jacobian coordinates (x l^2, y l^3, l): snarkjs reads it as the same point. */
export function jacobianRescale(proof: ProofBundle['proof'], l = 2n): ProofBundle['proof'] {
  const [x, y] = proof.pi_a.map(BigInt);
  return { ...proof, pi_a: [mod(x * l * l, BASE_Q), mod(y * l * l * l, BASE_Q), l].map(String) };
}

/** A key object with its fields in reverse order at every level: the same key, the same model id. */
function reordered(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reordered);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .reverse()
        .map(([k, x]) => [k, reordered(x)]),
    );
  return v;
}

export function verifierCases(key: ZkinferKey, bundle: ProofBundle, otherKey: ZkinferKey): VerifierCase[] {
  const b = (edit: (x: Json) => void): Json => {
    const x = clone(bundle);
    edit(x);
    return x;
  };
  const k = (edit: (x: Json) => void): Json => {
    const x = clone(key);
    edit(x);
    return x;
  };
  const valid = (name: string, key2: unknown, bundle2: unknown): VerifierCase => ({ name, key: key2, bundle: bundle2, expect: 'valid' });
  const bad = (name: string, bundle2: unknown, reason: RegExp, key2: unknown = key): VerifierCase => ({ name, key: key2, bundle: bundle2, expect: { reason } });
  const badKey = (name: string, key2: unknown, keyError: RegExp): VerifierCase => ({ name, key: key2, bundle, expect: { keyError } });
  const plusQ = (v: string) => String(BigInt(v) + BASE_Q);
  const cls = bundle.prediction.class ?? 0;
  return [
    valid('the real bundle', key, bundle),
    valid('the key with its fields in another order (same canonical JSON, same model id)', reordered(key), bundle),
    bad(
      'a tampered public signal',
      b((x) => (x.publicSignals[0] = String(mod(BigInt(x.publicSignals[0]) + 1n, FIELD_P)))),
      /Groth16 proof does not verify/,
    ),
    bad(
      'a public signal + p',
      b((x) => (x.publicSignals[0] = String(BigInt(x.publicSignals[0]) + FIELD_P))),
      /publicSignals\[0\] is not a canonical field element/,
    ),
    bad(
      'a public signal with a leading zero',
      b((x) => (x.publicSignals[0] = `0${x.publicSignals[0]}`)),
      /publicSignals\[0\]: expected a canonical decimal/,
    ),
    bad("another model's key", bundle, /bundle is for model .* the key is for model/, otherKey),
    bad(
      'pi_a[0] + q',
      b((x) => (x.proof.pi_a[0] = plusQ(x.proof.pi_a[0]))),
      /proof\.pi_a\[0\]: expected a canonical coordinate/,
    ),
    bad(
      'pi_c[1] + q',
      b((x) => (x.proof.pi_c[1] = plusQ(x.proof.pi_c[1]))),
      /proof\.pi_c\[1\]: expected a canonical coordinate/,
    ),
    bad(
      'pi_b[0][1] + q',
      b((x) => (x.proof.pi_b[0][1] = plusQ(x.proof.pi_b[0][1]))),
      /proof\.pi_b\[0\]\[1\]: expected a canonical coordinate/,
    ),
    bad(
      'a Jacobian rescaling of pi_a (z = 2)',
      b((x) => (x.proof = jacobianRescale(bundle.proof))),
      /proof\.pi_a\[2\]: expected "1"/,
    ),
    bad(
      'pi_b with z = (2, 0)',
      b((x) => (x.proof.pi_b[2] = ['2', '0'])),
      /proof\.pi_b\[2\]: expected \["1", "0"\]/,
    ),
    bad(
      'pi_a and pi_c swapped',
      b((x) => ([x.proof.pi_a, x.proof.pi_c] = [x.proof.pi_c, x.proof.pi_a])),
      /Groth16 proof does not verify|malformed proof/,
    ),
    bad(
      'a number where a coordinate string belongs',
      b((x) => (x.proof.pi_a[1] = 7)),
      /proof\.pi_a\[1\]/,
    ),
    bad(
      'a wrong class',
      b((x) => (x.prediction.class = (cls + 1) % key.model.outputSize)),
      /prediction\.class differs from the proved output/,
    ),
    bad(
      'a fake label',
      b((x) => (x.prediction.label = '7')),
      /prediction\.label differs/,
    ),
    bad(
      'fake scores',
      b((x) => (x.prediction.scores = x.prediction.scores.map((s: number) => s + 1))),
      /prediction\.scores differs/,
    ),
    bad(
      'a fake note',
      b((x) => (x.prediction.note = 'certified by the FDA')),
      /prediction\.note differs/,
    ),
    bad(
      'fake logits',
      b((x) => (x.prediction.logits = x.prediction.logits.map((s: string) => String(BigInt(s) + 1n)))),
      /prediction\.logits differs/,
    ),
    bad(
      'items added to a single proof',
      b((x) => (x.items = [x.prediction, x.prediction])),
      /items differs/,
    ),
    bad(
      'outputs added to a layer-model bundle',
      b((x) => (x.outputs = [{ name: 'y', shape: [1], values: [1] }])),
      /outputs differs/,
    ),
    bad(
      'input commitments added to a public-input proof',
      b((x) => (x.inputCommitments = ['1'])),
      /inputCommitments differs/,
    ),
    bad(
      'an unknown bundle field',
      b((x) => (x.extra = true)),
      /\(root\): Unrecognized key.*extra/,
    ),
    bad(
      'an unknown prediction field',
      b((x) => (x.prediction.confidence = 0.99)),
      /prediction: Unrecognized key.*confidence/,
    ),
    bad(
      'an unknown proof field',
      b((x) => (x.proof.pi_z = ['1'])),
      /proof: Unrecognized key.*pi_z/,
    ),
    bad(
      'version 2',
      b((x) => (x.version = 2)),
      /version: unsupported version 2/,
    ),
    bad(
      'visibility that differs from the key',
      b((x) => (x.visibility = { input: 'private', output: 'logits' })),
      /visibility does not match/,
    ),
    bad(
      'a keyId on a constant-weights bundle',
      b((x) => (x.keyId = modelIdOf(key))),
      /keyId is only used by private-weights proofs/,
    ),
    bad(
      'one public signal too many',
      b((x) => x.publicSignals.push('0')),
      /public signals, the key expects/,
    ),
    badKey(
      'a key with an unknown field (one key, two ids if hashed raw vs stripped)',
      k((x) => (x.comment = 'hi')),
      /malformed verification key: \(root\): Unrecognized key.*comment/,
    ),
    badKey(
      'a key with an unknown vkey field',
      k((x) => (x.vkey.vk_extra = ['1'])),
      /vkey: Unrecognized key.*vk_extra/,
    ),
    badKey(
      'vkey.IC one short',
      k((x) => x.vkey.IC.pop()),
      /vkey\.IC has \d+ points, \d+ public signals need/,
    ),
    badKey(
      'publicSignals.total one more than the vkey',
      k((x) => (x.publicSignals.total += 1)),
      /vkey\.nPublic \(\d+\) does not match publicSignals\.total/,
    ),
    badKey(
      'a key of version 2',
      k((x) => (x.version = 2)),
      /malformed verification key: version/,
    ),
  ];
}
