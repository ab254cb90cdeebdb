pragma circom 2.1.6;

include "circomlib/circuits/bitify.circom";

// SignedBits(n): range check for a signed value.
// Constraints: n (n booleanity constraints; the recomposition is linear and folded away by --O2).
// Guarantees: in lies in [-2^(n-1), 2^(n-1)) as an integer, and bits[] is the binary expansion of
// in + 2^(n-1), so bits[n-1] = 1 exactly when in >= 0. Sound for n <= 252: the recomposition ranges over
// [0, 2^n) which never wraps the BN254 scalar field, so a negative or out-of-range value (a field
// element near p) has no n-bit expansion.
template SignedBits(n) {
    assert(n >= 1 && n <= 252);
    signal input in;
    signal output bits[n];
    component b = Num2Bits(n);
    b.in <== in + (1 << (n - 1));
    for (var i = 0; i < n; i++) bits[i] <== b.out[i];
}

// UnsignedRange(n): in lies in [0, 2^n). Constraints: n. Used for the model's input pixels.
template UnsignedRange(n) {
    assert(n >= 1 && n <= 252);
    signal input in;
    component b = Num2Bits(n);
    b.in <== in;
}
