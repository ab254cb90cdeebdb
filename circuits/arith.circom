pragma circom 2.1.6;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "range.circom";

// Element-wise arithmetic for the op-graph emitter. Equality tests use circomlib's IsEqual() (2
// constraints, through IsZero; its inverse hint is the allowed IsZero finding), included from here.

// Mul(): out = a * b in the field.
// Constraints: 1. Guarantees: out = a * b (exact over the integers when the caller's bounds keep
// |a * b| < p / 2). No hint. It exists so an emitted main writes no constraint of its own: every product
// sits in a component whose header states its count.
template Mul() {
    signal input a;
    signal input b;
    signal output out;
    out <== a * b;
}

// Select(): out = c ? a : b.
// Constraints: 1. Precondition: c is boolean (constrained by the caller, e.g. a comparison bit); for any
// other c, out = b + c * (a - b) is some other field element. Guarantees: out = a if c = 1, b if c = 0.
// No hint.
template Select() {
    signal input c;
    signal input a;
    signal input b;
    signal output out;
    out <== c * (a - b) + b;
}

// LessThanSigned(n): out = 1 if a < b else 0, as signed integers.
// Constraints: n (SignedBits of a - b; out is linear in its sign bit).
// Precondition: a - b lies in [-2^(n-1), 2^(n-1)) (the compiler's static bounds); otherwise there is no
// witness (SignedBits: the shifted difference has no n-bit expansion, n <= 252 cannot wrap).
// Guarantees: out = 1 - bits[n-1] where bits[n-1] = [a - b >= 0], so out = [a < b] and out is boolean.
// No hint beyond the Num2Bits bits, pinned by booleanity and recomposition.
template LessThanSigned(n) {
    assert(n >= 1 && n <= 252);
    signal input a;
    signal input b;
    signal output out;
    component d = SignedBits(n);
    d.in <== a - b;
    out <== 1 - d.bits[n - 1];
}

// DivFloor(nq, nd): q = floor(num / den) for a signal divisor.
// Constraints: 1 + 2 * nd + nq (num === q * den + r: 1; r in [0, 2^nd): nd; den - 1 - r in [0, 2^nd): nd;
// q in [-2^(nq-1), 2^(nq-1)): nq).
// Precondition (the compiler's static bounds): den in [1, 2^nd) and floor(num / den) in
// [-2^(nq-1), 2^(nq-1)), num read as a signed field element. Outside it there is no witness, or (when
// den in [2^nd, 2^(nd+1)) happens to leave r and den - 1 - r below 2^nd) still the true quotient.
// Hints: q and r = num - q * den. Pinned: write t = den - 1 - r. The range checks give r, t in [0, 2^nd)
// as integers, so den = 1 + r + t as an integer in [1, 2^(nd+1)): a den of 0 or a "negative" den p - x
// is not of that form and has no witness, and 0 <= r < den. With q in [-2^(nq-1), 2^(nq-1)),
// |q * den + r| < 2^(nq+nd) <= 2^250 < p / 2, so num === q * den + r holds over the integers for the
// signed reading of num (no wrap), and integer division with 0 <= r < den makes (q, r) unique: two
// solutions give (q - q') * den = r' - r with |r' - r| < den, so q = q'. Hence q = floor(num / den).
template DivFloor(nq, nd) {
    assert(nq >= 1 && nd >= 1 && nq + nd + 2 <= 252);
    signal input num;
    signal input den;
    signal output q;
    signal r;

    // Hints, computed on non-negative integers (circom's \ reads field elements as [0, p)): shift num
    // by 2^(nq-1) * den so the dividend is non-negative whenever the precondition holds.
    q <-- den == 0 ? 0 : (num + (1 << (nq - 1)) * den) \ den - (1 << (nq - 1));
    r <-- num - q * den;

    num === q * den + r;
    component rRange = Num2Bits(nd);
    rRange.in <== r;
    component gap = Num2Bits(nd);
    gap.in <== den - 1 - r;
    component qRange = SignedBits(nq);
    qRange.in <== q;
}
