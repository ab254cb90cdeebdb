pragma circom 2.1.6;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "range.circom";

// DivFloorPow2(s, n): q = floor(in / 2^s), the integer division used to requantize an accumulator.
// Constraints: s + n (remainder bits + signed quotient bits).
// Precondition (established by the compiler's static bounds): in lies in [-2^(s+n-1), 2^(s+n-1)).
// Guarantees: in = q * 2^s + r with 0 <= r < 2^s and -2^(n-1) <= q < 2^(n-1) over the integers, which
// makes (q, r) unique: another pair would need (q - q') * 2^s = r' - r with |r' - r| < 2^s. No identity
// wraps the field because s + n + 1 <= 253. qBits is the expansion of q + 2^(n-1) (qBits[n-1] = q >= 0).
template DivFloorPow2(s, n) {
    assert(s >= 0 && n >= 1 && s + n + 1 <= 253);
    signal input in;
    signal output q;
    signal output qBits[n];

    signal r;
    // Hints: shift into [0, 2^(s+n)) so that circom's integer \ and % see a non-negative number.
    var offset = 1 << (s + n - 1);
    r <-- (in + offset) % (1 << s);
    q <-- (in + offset) \ (1 << s) - (1 << (n - 1));

    in === q * (1 << s) + r;
    if (s > 0) {
        component rRange = Num2Bits(s);
        rRange.in <== r;
    } else {
        r === 0;
    }
    component qRange = SignedBits(n);
    qRange.in <== q;
    for (var i = 0; i < n; i++) qBits[i] <== qRange.bits[i];
}

// ReluClampFromBits(n, h): out = min(max(q, 0), 2^h - 1), given qBits = expansion of q + 2^(n-1)
// (as produced and constrained by DivFloorPow2 or SignedBits).
// Constraints: 4 when h < n - 1 (IsZero over the high bits: 2, two products: 2); 1 when h >= n - 1.
// Guarantees: out is exactly the clamped ReLU of q; the sign is the range-checked bit qBits[n-1], never a
// comparison that could wrap around the field.
template ReluClampFromBits(n, h) {
    assert(n >= 1 && h >= 1 && h <= 252);
    signal input q;
    signal input qBits[n];
    signal output out;

    signal nonNeg <== qBits[n - 1];
    if (h >= n - 1) {
        // q < 2^(n-1) <= 2^h, so no clamp is needed: out = q if q >= 0 else 0.
        out <== nonNeg * q;
    } else {
        // When q >= 0, q = sum of qBits[0..n-2]; it exceeds 2^h - 1 iff one of bits h..n-2 is set.
        var high = 0;
        for (var i = h; i < n - 1; i++) high += qBits[i];
        component fits = IsZero();
        fits.in <== high;
        var low = 0;
        for (var i = 0; i < h; i++) low += qBits[i] * (1 << i);
        var cap = (1 << h) - 1;
        signal lowOrCap <== fits.out * (low - cap);
        out <== nonNeg * (lowOrCap + cap);
    }
}

// RequantReluClamp(s, n, h): out = min(max(floor(in / 2^s), 0), 2^h - 1).
// Constraints: s + n + 4 (s + n + 1 when h >= n - 1). Precondition and guarantees as the parts above.
// The caller folds the fixed-point multiplier and rounding constant into `in`: in = acc * M + 2^(s-1).
template RequantReluClamp(s, n, h) {
    signal input in;
    signal output out;
    component div = DivFloorPow2(s, n);
    div.in <== in;
    component act = ReluClampFromBits(n, h);
    act.q <== div.q;
    for (var i = 0; i < n; i++) act.qBits[i] <== div.qBits[i];
    out <== act.out;
}
