pragma circom 2.1.6;

include "circomlib/circuits/bitify.circom";

// OneHot(k): sel[i] = 1 exactly when bits (little-endian) spell i, for i in [0, 2^k).
// Constraints: (1 << k) - k - 1 (k = 1: 0, k = 2: 1, k = 4: 11).
// Precondition: every bits[j] is boolean (constrained by the caller, e.g. a Num2Bits expansion).
// Built as a tensor product: e = OneHot(k - 1) of the low k - 1 bits (one-hot, sum 1) and b = bits[k-1];
// sel[H + i] = e[i] * b for i < H - 1 (H = 2^(k-1): one product each), sel[2H - 1] = b - sum of those
// (linear; equals e[H-1] * b because the e[i] sum to 1), sel[i] = e[i] - sel[H + i] (linear).
// Guarantees: sel is the one-hot vector of the number the bits spell, and sum(sel) = 1 holds as an
// identity of linear forms (callers may rely on it). No hint: every wire is a product of constrained
// wires, so the witness is unique. Nothing can wrap: the identities are polynomial identities in the
// boolean bits.
template OneHot(k) {
    assert(k >= 1 && k <= 24);
    signal input bits[k];
    signal output sel[1 << k];
    if (k == 1) {
        sel[0] <== 1 - bits[0];
        sel[1] <== bits[0];
    } else {
        var H = 1 << (k - 1);
        component e = OneHot(k - 1);
        for (var j = 0; j < k - 1; j++) e.bits[j] <== bits[j];
        signal prod[H - 1];
        var others = 0;
        for (var i = 0; i < H - 1; i++) {
            prod[i] <== e.sel[i] * bits[k - 1];
            others += prod[i];
            sel[H + i] <== prod[i];
        }
        sel[2 * H - 1] <== bits[k - 1] - others;
        for (var i = 0; i < H; i++) sel[i] <== e.sel[i] - sel[H + i];
    }
}

// Lookup(w, T): out = T[in] for a constant table T of 2^w field constants (negative entries are p - x).
// Constraints: (1 << ((w + 1) \ 2)) + (1 << (w \ 2 + 1)) - 3 (w = 1: 1, w = 2: 3, w = 8: 45, w = 10: 93,
// w = 12: 189; fewer only for a degenerate table, see below).
// That is w (Num2Bits) + (2^k - k - 1) + (2^m - m - 1) (two OneHot) + 2^m - 1 (products), with
// k = (w + 1) \ 2 low bits and m = w \ 2 high bits. The low half takes the extra bit when w is odd
// because products grow with 2^m (w = 9: 61 instead of 77 with k = w \ 2).
// Precondition: none on in. Guarantees: in lies in [0, 2^w) (otherwise there is no witness: Num2Bits,
// w <= 24 cannot wrap), and out = T[in].
// How: lo = OneHot(k) of the low bits, hi = OneHot(m) of the high bits, row[h] = sum_l T[h * 2^k + l] *
// lo[l] (linear: T is constant), and out = row[last] + sum_{h < last} hi[h] * (row[h] - row[last]),
// which equals sum_h hi[h] * row[h] because hi is one-hot and sums to 1; one product per high selector
// but the last. No hint: the bits are unique, every other wire is a product of them, so the witness is
// unique. Degenerate tables: when row[h] - row[last] is the same constant c for every l (for example two
// equal rows, c = 0), sum(lo) = 1 as a linear identity makes the difference the constant c and circom
// folds that product into a linear constraint: one constraint fewer per such row. The audit cases use
// tables without such rows, so the formula is exact there.
template Lookup(w, T) {
    assert(w >= 1 && w <= 24);
    var k = (w + 1) \ 2;
    var m = w \ 2;
    signal input in;
    signal output out;

    component bits = Num2Bits(w);
    bits.in <== in;
    component lo = OneHot(k);
    for (var j = 0; j < k; j++) lo.bits[j] <== bits.out[j];

    if (m == 0) {
        // w = 1: a single row, out is linear in the selector.
        var row = 0;
        for (var l = 0; l < (1 << k); l++) row += T[l] * lo.sel[l];
        out <== row;
    } else {
        component hi = OneHot(m);
        for (var j = 0; j < m; j++) hi.bits[j] <== bits.out[k + j];
        var rows = 1 << m;
        var L = 1 << k;
        var last = 0;
        for (var l = 0; l < L; l++) last += T[(rows - 1) * L + l] * lo.sel[l];
        signal picked[rows - 1];
        var sum = last;
        for (var h = 0; h < rows - 1; h++) {
            var row = 0;
            for (var l = 0; l < L; l++) row += (T[h * L + l] - T[(rows - 1) * L + l]) * lo.sel[l];
            picked[h] <== hi.sel[h] * row;
            sum += picked[h];
        }
        out <== sum;
    }
}
