// Typings for what src/verify/solidity.ts and its test use from ejs and snarkjs (neither ships types).
// The snarkjs namespaces merge with src/types/snarkjs-ffjavascript.d.ts and src/types/vendor.d.ts.

declare module 'ejs' {
  export function render(template: string, data: object): string;
}

declare module 'snarkjs' {
  export namespace groth16 {
    /** The verifyProof arguments as Solidity literals: `[a],[[b]],[c],[inputs]` (b's coordinates swapped). */
    function exportSolidityCallData(proof: unknown, publicSignals: string[]): Promise<string>;
  }
  export namespace zKey {
    function exportSolidityVerifier(zkey: string, templates: Record<string, string>, logger?: SnarkjsLogger): Promise<string>;
  }
}
