pragma circom 2.1.6;

include "circomlib/circuits/poseidon.circom";

// PackedCommitment(n, bits): out = Poseidon commitment to in[0..n-1] under a blinding salt.
// Packing: per = floor(248 / bits) values per field element, little-endian (value i of a chunk times
// 2^(bits*i)); packing is linear, so it costs no constraint. Hashing: a chain of circomlib Poseidon calls,
// state_0 = salt, state_{c+1} = Poseidon(state_c, next up to 15 packed elements); out = last state.
// Constraints: only the Poseidon calls (no closed form; measured: 240 for 1 packed element, 261 for 2,
// 870 for 17, 1,113 for 784 8-bit inputs = 26 packed elements in 2 calls).
// Precondition: every in[i] lies in [0, 2^bits) (range-checked by the caller), so a packed element is
// below 2^248 < p and packing is injective; Poseidon makes the commitment binding, the random salt hiding
// (a low-entropy input cannot be found by hashing guesses). src/format/commitment.ts computes the same
// value with circomlibjs.
template PackedCommitment(n, bits) {
    assert(bits >= 1 && bits <= 248 && n >= 1);
    signal input in[n];
    signal input salt;
    signal output out;

    var per = 248 \ bits;
    var nPacked = (n + per - 1) \ per;
    var packed[nPacked];
    for (var p = 0; p < nPacked; p++) {
        packed[p] = 0;
        for (var i = 0; i < per && p * per + i < n; i++) packed[p] += in[p * per + i] * (1 << (bits * i));
    }

    var nCalls = (nPacked + 14) \ 15;
    component h[nCalls];
    for (var c = 0; c < nCalls; c++) {
        var width = nPacked - 15 * c < 15 ? nPacked - 15 * c : 15;
        h[c] = Poseidon(width + 1);
        h[c].inputs[0] <== c == 0 ? salt : h[c - 1].out;
        for (var i = 0; i < width; i++) h[c].inputs[i + 1] <== packed[15 * c + i];
    }
    out <== h[nCalls - 1].out;
}

// TaggedSalt(tag): out = Poseidon(tag, salt), the first state of a commitment chain that starts from a
// constant tag (e.g. the digest of a private-weights architecture). Every later state of a PackedCommitment
// chain is Poseidon(state, packed...), with a previous STATE in the first position; matching this one from
// another chain would need a state equal to `tag`, a Poseidon preimage. So chains with different tags cannot
// meet, whatever salts their owners choose. Precondition: tag is a constant field element.
// Constraints: 237 (circomlib's Poseidon(2) is 240; --O2 folds the first S-box of the constant tag, 3).
template TaggedSalt(tag) {
    signal input salt;
    signal output out;
    component h = Poseidon(2);
    h.inputs[0] <== tag;
    h.inputs[1] <== salt;
    out <== h.out;
}
