// Typings for the parts of snarkjs, circom_runtime and r1csfile that the pipeline stages use (none ships
// types). Namespaces merge with src/types/snarkjs-ffjavascript.d.ts.

declare module 'snarkjs' {
  export type FileRef = string | { type: 'mem'; data?: Uint8Array };
  export interface Groth16Proof {
    pi_a: string[];
    pi_b: string[][];
    pi_c: string[];
    protocol: string;
    curve: string;
  }
  export namespace groth16 {
    function prove(zkey: FileRef, witness: FileRef, logger?: SnarkjsLogger): Promise<{ proof: Groth16Proof; publicSignals: string[] }>;
  }
  export namespace r1cs {
    function info(
      r1cs: string,
      logger?: SnarkjsLogger,
    ): Promise<{ nConstraints: number; nVars: number; nOutputs: number; nPubInputs: number; nPrvInputs: number; nLabels: number }>;
  }
}

declare module 'circom_runtime' {
  export interface WitnessCalculator {
    calculateWitness(input: Record<string, unknown>, sanityCheck?: boolean): Promise<bigint[]>;
    calculateWTNSBin(input: Record<string, unknown>, sanityCheck?: boolean): Promise<Uint8Array>;
  }
  export function WitnessCalculatorBuilder(code: Uint8Array, options?: { sanityCheck?: boolean }): Promise<WitnessCalculator>;
}

declare module 'r1csfile' {
  export interface R1cs {
    n8: number;
    prime: bigint;
    nVars: number;
    nOutputs: number;
    nPubInputs: number;
    nPrvInputs: number;
    nLabels: number;
    nConstraints: number;
    /** Each constraint is [A, B, C], each a map from signal index to coefficient (bigint when loaded with F). */
    constraints: Array<[Record<number, bigint>, Record<number, bigint>, Record<number, bigint>]>;
    curve?: { terminate(): Promise<void> };
  }
  export function readR1cs(fileName: string, loadConstraints?: boolean, loadMap?: boolean, singleThread?: boolean, logger?: unknown, loggerCtx?: string): Promise<R1cs>;
}
