pragma circom 2.1.6;

// Baseline templates for the benchmark (bench/baseline/emitBaseline.ts): the same quantized MLP built the
// way circomlib-ml / keras2circom build models, so zkinfer's constraint counts have a reference point.
//   * every weight, bias and requantization multiplier is a private input signal, so every multiply is a
//     constraint (zkinfer bakes them in as constants: multiply-accumulate becomes a linear combination);
//   * the floor-division quotient and remainder are prover-supplied inputs (hints);
//   * ReLU, clamp and argmax compare through a full 254-bit sign (Num2Bits + circomlib's Sign).
// Unlike circomlib-ml, every hint is pinned by constraints, so the baseline is sound:
//   * the remainder is range-checked (circomlib-ml only `assert`s it, which is not a constraint) and so is
//     the quotient, which makes (q, r) unique: without a bound on q, any r would do with q = (in - r) / 2^s;
//   * the 254-bit decomposition is the strict one (Num2Bits_strict: alias check included). The plain
//     Num2Bits(254) that circomlib-ml's IsPositive uses also accepts the bits of v + p for small v >= 0,
//     whose Sign is 1, so a prover could zero any positive activation.
// The templates are written for this benchmark; only circomlib's generic gadgets are reused.

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/sign.circom";

// IsNonNegative254(): out = 1 iff in, read as a signed field element (values above (p-1)/2 are negative),
// is >= 0. Constraints: 254 (bits) + alias check + Sign (~2 x 263). Sound for any field element.
template IsNonNegative254() {
    signal input in;
    signal output out;
    component bits = Num2Bits_strict();
    bits.in <== in;
    component sign = Sign();
    for (var i = 0; i < 254; i++) sign.in[i] <== bits.out[i];
    out <== 1 - sign.sign;
}

// BaselineDense(nIn, nOut): acc[j] = bias[j] + sum_i weights[j][i] * in[i] with the weights as signals.
// Constraints: nIn * nOut (one per product; the sums are linear).
template BaselineDense(nIn, nOut) {
    signal input in[nIn];
    signal input weights[nOut][nIn];
    signal input bias[nOut];
    signal output acc[nOut];
    signal prod[nOut][nIn];
    for (var j = 0; j < nOut; j++) {
        var sum = bias[j];
        for (var i = 0; i < nIn; i++) {
            prod[j][i] <== weights[j][i] * in[i];
            sum += prod[j][i];
        }
        acc[j] <== sum;
    }
}

// BaselineRequant(s, n, h, clamp): out = min(max(floor((acc * mult + 2^(s-1)) / 2^s), 0), 2^h - 1), the
// same integers as zkinfer's RequantReluClamp, with q and r supplied by the prover.
// Constraints: 1 (acc * mult) + s (remainder) + n (quotient) + a 254-bit sign and a product for ReLU,
// and when clamp = 1 another 254-bit sign and product.
// Precondition (static bounds): acc * mult + 2^(s-1) lies in [-2^(s+n-1), 2^(s+n-1)).
// Guarantees: q * 2^s + r = acc * mult + 2^(s-1) with r in [0, 2^s) and q in [-2^(n-1), 2^(n-1)), which
// is unique (s + n + 1 <= 253, so the identity cannot wrap the field); then out is the clamped ReLU of q.
template BaselineRequant(s, n, h, clamp) {
    assert(s >= 1 && n >= 1 && s + n + 1 <= 253 && h >= 1);
    signal input acc;
    signal input mult;
    signal input q;
    signal input r;
    signal output out;

    signal scaled <== acc * mult;
    scaled + (1 << (s - 1)) === q * (1 << s) + r;
    component rBits = Num2Bits(s);
    rBits.in <== r;
    component qBits = Num2Bits(n);
    qBits.in <== q + (1 << (n - 1));

    component pos = IsNonNegative254();
    pos.in <== q;
    signal relu <== pos.out * q;
    if (clamp == 1) {
        // over = [relu >= 2^h]; then out = 2^h - 1 when over, else relu.
        component over = IsNonNegative254();
        over.in <== relu - (1 << h);
        signal capped <== over.out * ((1 << h) - 1 - relu);
        out <== relu + capped;
    } else {
        out <== relu;
    }
}

// BaselineArgMax(N): index of the first maximum by a running maximum: N - 1 pairwise comparisons
// (in[i] > max so far, via the sign of in[i] - max - 1, so ties keep the earlier index) and two
// selections each. Constraints: (N - 1) * (254-bit sign + 2).
// Precondition (static bounds): all inputs are small signed integers, so differences never wrap.
template BaselineArgMax(N) {
    signal input in[N];
    signal output index;
    signal best[N];
    signal bestIndex[N];
    signal gtBest[N];
    component gt[N];
    best[0] <== in[0];
    bestIndex[0] <== 0;
    for (var i = 1; i < N; i++) {
        gt[i] = IsNonNegative254();
        gt[i].in <== in[i] - best[i - 1] - 1;
        gtBest[i] <== gt[i].out * (in[i] - best[i - 1]);
        best[i] <== best[i - 1] + gtBest[i];
        bestIndex[i] <== bestIndex[i - 1] + gt[i].out * (i - bestIndex[i - 1]);
    }
    index <== bestIndex[N - 1];
}
