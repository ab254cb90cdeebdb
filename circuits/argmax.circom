pragma circom 2.1.6;

include "circomlib/circuits/bitify.circom";

// ArgMax(N, b): index of the first maximum of in[0..N-1], and the maximum itself.
// Constraints: N * (b + 2) (N booleanity, N selector products, N b-bit range checks).
// Precondition (established by the compiler's static bounds): every in[i] lies in [-2^(b-1), 2^(b-1)).
// Guarantees: sel is one-hot (boolean, sums to 1), max = in[index], and for every i,
// d_i = max - in[i] - [i < index] lies in [0, 2^b): so no input exceeds max and every input before
// index is strictly smaller. That pins index to the FIRST maximum, so ties have one valid witness.
// A negative d_i is a field element near p and has no b-bit expansion (b <= 252), so it cannot wrap.
template ArgMax(N, b) {
    assert(N >= 2 && b >= 1 && b <= 252);
    signal input in[N];
    signal output index;
    signal output max;

    signal sel[N];
    // Hint: the first maximum, comparing as signed integers (field values above p/2 are negative).
    // circom's > compares field elements as signed values (those above p/2 are negative).
    var best = 0;
    var bestVal = in[0];
    for (var i = 1; i < N; i++) {
        if (in[i] > bestVal) { best = i; bestVal = in[i]; }
    }
    for (var i = 0; i < N; i++) sel[i] <-- (i == best) ? 1 : 0;

    var total = 0;
    var idx = 0;
    signal picked[N];
    var pickedSum = 0;
    for (var i = 0; i < N; i++) {
        sel[i] * (sel[i] - 1) === 0;
        total += sel[i];
        idx += i * sel[i];
        picked[i] <== sel[i] * in[i];
        pickedSum += picked[i];
    }
    total === 1;
    index <== idx;
    max <== pickedSum;

    component gap[N];
    var after = 0; // after = [i < index] = sum of sel[j] for j > i
    for (var i = N - 1; i >= 0; i--) {
        gap[i] = Num2Bits(b);
        gap[i].in <== max - in[i] - after;
        after += sel[i];
    }
}
