pragma circom 2.1.6;

include "circomlib/circuits/bitify.circom";

// Max2(b): out = max(a, c) for a, c in [0, 2^b) (established by the caller's range checks or bounds).
// Constraints: b + 2 (b + 1 bits of a - c + 2^b, one product).
// Guarantees: s = [a >= c] is the top bit of a range-checked expansion of a - c + 2^b, which lies in
// [1, 2^(b+1)) and cannot wrap the field (b + 1 <= 252); out = c + s * (a - c) is one of the two inputs
// and neither input exceeds it. The expansion is unique, so the witness is unique.
template Max2(b) {
    assert(b >= 1 && b <= 251);
    signal input a;
    signal input c;
    signal output out;
    component diff = Num2Bits(b + 1);
    diff.in <== a - c + (1 << b);
    out <== c + diff.out[b] * (a - c);
}

// MaxOfN(N, b): the maximum of N values in [0, 2^b), as a chain of N - 1 Max2 (max pooling windows).
// Constraints: (N - 1) * (b + 2). Guarantees: out is one of the inputs and no input exceeds it.
template MaxOfN(N, b) {
    assert(N >= 1);
    signal input in[N];
    signal output out;
    if (N == 1) {
        out <== in[0];
    } else {
        component m[N - 1];
        for (var i = 0; i < N - 1; i++) {
            m[i] = Max2(b);
            m[i].a <== i == 0 ? in[0] : m[i - 1].out;
            m[i].c <== in[i + 1];
        }
        out <== m[N - 2].out;
    }
}
