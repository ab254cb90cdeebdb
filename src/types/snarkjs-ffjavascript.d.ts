// Minimal hand-written typings for the parts of snarkjs and ffjavascript that
// zkinfer uses (neither package ships TypeScript types).
// Declared with namespaces/functions (not `const`) so that they can merge with
// declarations added elsewhere (e.g. src/types/vendor.d.ts) instead of clashing.

declare module 'ffjavascript' {
  /** Field element / point bytes as used by ffjavascript's wasm engine (Montgomery LE). */
  export type FfElement = Uint8Array;

  export interface FfField {
    n8: number;
    n64: number;
    one: FfElement;
    zero: FfElement;
    /** Roots of unity: w[k] has order 2^k. */
    w: FfElement[];
    s: number;
    e(a: number | bigint | string): FfElement;
    mul(a: FfElement, b: FfElement): FfElement;
    add(a: FfElement, b: FfElement): FfElement;
    sub(a: FfElement, b: FfElement): FfElement;
    square(a: FfElement): FfElement;
    inv(a: FfElement): FfElement;
    exp(a: FfElement, e: number | bigint | Uint8Array): FfElement;
    eq(a: FfElement, b: FfElement): boolean;
    isZero(a: FfElement): boolean;
    fromRprLE(buff: Uint8Array, o?: number): FfElement;
    toRprLE(buff: Uint8Array, o: number, e: FfElement): void;
    toString(a: FfElement, radix?: number): string;
  }

  export interface FfGroup {
    F: FfField;
    g: FfElement;
    zero: FfElement;
    zeroAffine: FfElement;
    add(a: FfElement, b: FfElement): FfElement;
    neg(a: FfElement): FfElement;
    eq(a: FfElement, b: FfElement): boolean;
    isZero(a: FfElement): boolean;
    toAffine(a: FfElement): FfElement;
    timesScalar(a: FfElement, s: Uint8Array | number | bigint): FfElement;
    timesFr(a: FfElement, s: FfElement): FfElement;
    fromRng(rng: ChaCha): FfElement;
    fromRprLEM(buff: Uint8Array, o?: number): FfElement;
    toRprLEM(buff: Uint8Array, o: number, p: FfElement): void;
    toRprUncompressed(buff: Uint8Array, o: number, p: FfElement): void;
    toUncompressed(p: FfElement): Uint8Array;
    batchLEMtoU(buff: Uint8Array): Promise<Uint8Array>;
    batchLEMtoC(buff: Uint8Array): Promise<Uint8Array>;
    multiExpAffine(bases: Uint8Array, scalars: Uint8Array): Promise<FfElement>;
  }

  export interface FfThreadManager {
    /** Bytes of the compiled curve wasm module (kept by single-thread curves). */
    code: Uint8Array<ArrayBuffer>;
    concurrency: number;
    pG1gen: number;
    pG2gen: number;
  }

  export interface FfCurve {
    name: string;
    q: bigint;
    r: bigint;
    Fr: FfField;
    F1: FfField;
    F2: FfField;
    G1: FfGroup;
    G2: FfGroup;
    tm: FfThreadManager;
    pairingEq(...points: FfElement[]): Promise<boolean>;
    terminate(): Promise<void>;
  }

  export function buildBn128(singleThread?: boolean): Promise<FfCurve>;

  export class ChaCha {
    constructor(seed?: number[]);
    nextU32(): number;
  }
}

declare module 'snarkjs' {
  export interface SnarkjsLogger {
    debug(msg: string): void;
    info(msg: string): void;
    warn(msg: string): void;
    error(msg: string): void;
  }

  export namespace powersOfTau {
    function newAccumulator(curve: import('ffjavascript').FfCurve, power: number, fileName: string, logger?: SnarkjsLogger): Promise<Uint8Array>;
    function contribute(oldPtau: string, newPtau: string, name: string, entropy: string, logger?: SnarkjsLogger): Promise<Uint8Array>;
    function preparePhase2(oldPtau: string, newPtau: string, logger?: SnarkjsLogger): Promise<void>;
    function verify(ptau: string, logger?: SnarkjsLogger): Promise<boolean>;
  }

  export namespace zKey {
    function newZKey(r1cs: string, ptau: string, zkey: string, logger?: SnarkjsLogger): Promise<unknown>;
    function contribute(oldZkey: string, newZkey: string, name: string, entropy: string, logger?: SnarkjsLogger): Promise<unknown>;
    function exportVerificationKey(zkey: string, logger?: SnarkjsLogger): Promise<unknown>;
  }

  export namespace groth16 {
    function fullProve(input: Record<string, unknown>, wasmFile: string, zkeyFile: string, logger?: SnarkjsLogger): Promise<{ proof: unknown; publicSignals: string[] }>;
    function verify(vkey: unknown, publicSignals: string[], proof: unknown, logger?: SnarkjsLogger): Promise<boolean>;
  }
}
