/**
 * BN254 constants and the signed encoding of field elements. Plain bigint code with no imports, so the
 * verifier core (src/verify/core.ts) can use it in the browser too.
 */

/** BN254 scalar field modulus: every circuit signal is an element of this field. */
export const FIELD_P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** BN254 base field modulus: proof point coordinates are elements of this field. */
export const BASE_Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

/** Decode a field element as a signed integer (values above p/2 stand for negatives). */
export function fieldToSigned(v: bigint | string): bigint {
  const x = typeof v === 'string' ? BigInt(v) : v;
  return x > FIELD_P / 2n ? x - FIELD_P : x;
}

export function signedToField(v: bigint | number): bigint {
  const x = BigInt(v);
  return ((x % FIELD_P) + FIELD_P) % FIELD_P;
}
