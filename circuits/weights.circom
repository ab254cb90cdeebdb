pragma circom 2.1.6;

include "range.circom";
include "requantize.circom";

// Templates for private weights (weights, biases and multipliers are witness signals, not constants):
// one circuit serves every parameter set of an architecture, and the model id is a public Poseidon
// commitment to the parameters (emitted by src/weights/emit.ts with PackedCommitment).

// PrivateDense(nIn, nOut, bb): acc[j] = b[j] + sum_i w[j][i] * x[i] for private parameters.
// Constraints: nOut * (9 * nIn + bb) (8 weight bits and one product per weight, bb bits per bias; the sum
// is linear and folded into its consumer by --O2).
// Guarantees: every w[j][i] lies in [-128, 128) (int8) and every b[j] in [-2^(bb-1), 2^(bb-1)) as
// integers (SignedBits), and acc[j] is the exact integer sum. Precondition: every x[i] lies in [0, 2^k)
// with nIn * 128 * 2^k + 2^(bb-1) < p / 2 (the caller's range checks or requantized activations; the
// compiler's static bounds keep it far below), so the sum cannot wrap the field. The range checks are
// also what makes the caller's packing of w + 128 and b + 2^(bb-1) into the commitment injective.
template PrivateDense(nIn, nOut, bb) {
    assert(nIn >= 1 && nOut >= 1 && bb >= 1 && bb <= 252);
    signal input x[nIn];
    signal input w[nOut][nIn];
    signal input b[nOut];
    signal output acc[nOut];

    component wRange[nOut][nIn];
    component bRange[nOut];
    signal prod[nOut][nIn];
    for (var j = 0; j < nOut; j++) {
        var sum = 0;
        for (var i = 0; i < nIn; i++) {
            wRange[j][i] = SignedBits(8);
            wRange[j][i].in <== w[j][i];
            prod[j][i] <== w[j][i] * x[i];
            sum += prod[j][i];
        }
        bRange[j] = SignedBits(bb);
        bRange[j].in <== b[j];
        acc[j] <== b[j] + sum;
    }
}

// PrivateRequant(nOut, mb, s, n, h): out[j] = clamp(floor((acc[j] * m[j] + 2^(s-1)) / 2^s), 0, 2^h - 1)
// (rounding constant 0 when s = 0) for private multipliers m[j].
// Constraints: nOut * (mb + s + n + 5) (nOut * (mb + s + n + 2) when h >= n - 1): mb bits of m - 1, the
// product acc * m, and RequantReluClamp(s, n, h).
// Guarantees: every m[j] lies in [1, 2^mb] (m - 1 is an mb-bit unsigned), and out[j] is exactly the
// requantized, clamped ReLU of the integer acc[j]. Precondition (the compiler's static bounds over ALL
// admissible parameters): acc[j] * m + 2^(s-1) lies in [-2^(s+n-1), 2^(s+n-1)) for every m in range, as
// RequantReluClamp requires; outside it there is no witness.
template PrivateRequant(nOut, mb, s, n, h) {
    assert(nOut >= 1 && mb >= 1 && mb <= 252);
    signal input acc[nOut];
    signal input m[nOut];
    signal output out[nOut];

    var half = 0;
    if (s > 0) half = 1 << (s - 1);
    component mRange[nOut];
    component rq[nOut];
    signal scaled[nOut];
    for (var j = 0; j < nOut; j++) {
        mRange[j] = UnsignedRange(mb);
        mRange[j].in <== m[j] - 1;
        scaled[j] <== acc[j] * m[j];
        rq[j] = RequantReluClamp(s, n, h);
        rq[j].in <== scaled[j] + half;
        out[j] <== rq[j].out;
    }
}
