import { createEVM } from '@ethereumjs/evm';
import type { Address } from '@ethereumjs/util';
import solc from 'solc';

/**
 * Dev-only helpers for the on-chain verifier: compile with solc-js (no native solc, no download) and run
 * in @ethereumjs/evm in-process (no node, no network). Used by test/solidity.test.ts and
 * bench/verifierSize.ts.
 */
export { EIP170_CODE_LIMIT } from '../../src/verify/solidity.js'; // deployed (runtime) code, bytes
export const EIP3860_INITCODE_LIMIT = 49_152; // creation code, bytes

export interface CompiledContract {
  /** Creation code, hex without 0x. */
  bytecode: string;
  /** Runtime code, hex without 0x: what EIP-170's 24 KiB limit applies to. */
  deployedBytecode: string;
  /** Function signature -> 4-byte selector (hex). */
  methodIdentifiers: Record<string, string>;
  solcVersion: string;
  warnings: string[];
}

interface SolcOutput {
  errors?: Array<{ severity: string; formattedMessage: string }>;
  contracts?: Record<string, Record<string, { evm: { bytecode: { object: string }; deployedBytecode: { object: string }; methodIdentifiers: Record<string, string> } }>>;
}

export function compileSolidity(source: string, contractName: string, optimizerRuns = 200): CompiledContract {
  const input = {
    language: 'Solidity',
    sources: { 'Verifier.sol': { content: source } },
    settings: {
      optimizer: { enabled: true, runs: optimizerRuns },
      outputSelection: { '*': { '*': ['evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.methodIdentifiers'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(`solc failed:\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  const contract = output.contracts?.['Verifier.sol']?.[contractName];
  if (!contract) throw new Error(`solc output has no contract ${contractName}`);
  return {
    bytecode: contract.evm.bytecode.object,
    deployedBytecode: contract.evm.deployedBytecode.object,
    methodIdentifiers: contract.evm.methodIdentifiers,
    solcVersion: solc.version(),
    warnings: (output.errors ?? []).filter((e) => e.severity !== 'error').map((e) => e.formattedMessage),
  };
}

const hexBytes = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/^0x/, ''), 'hex'));

/** Intrinsic gas of a transaction carrying `data` (EIP-2028 calldata pricing), for a full tx estimate. */
export function intrinsicGas(dataHex: string): number {
  const bytes = hexBytes(dataHex);
  return 21_000 + bytes.reduce((g, b) => g + (b === 0 ? 4 : 16), 0);
}

export interface Chain {
  deploy(bytecode: string): Promise<Address>;
  /** eth_call-like: returns the raw return data (hex) and the execution gas (without the tx's intrinsic gas). */
  call(to: Address, dataHex: string): Promise<{ returnHex: string; gasUsed: bigint; error?: string }>;
}

/** `unlimitedCodeSize` lifts EIP-170/3860 so a too-large contract can still be measured (never on mainnet). */
export async function createChain(options: { unlimitedCodeSize?: boolean } = {}): Promise<Chain> {
  const unlimited = options.unlimitedCodeSize ?? false;
  const evm = await createEVM({ allowUnlimitedContractSize: unlimited, allowUnlimitedInitCodeSize: unlimited });
  const gasLimit = 30_000_000n;
  return {
    async deploy(bytecode) {
      const result = await evm.runCall({ data: hexBytes(bytecode), gasLimit });
      if (result.execResult.exceptionError || !result.createdAddress) {
        throw new Error(`deployment failed: ${result.execResult.exceptionError?.error ?? 'no address'}`);
      }
      return result.createdAddress;
    },
    async call(to, dataHex) {
      const result = await evm.runCall({ to, data: hexBytes(dataHex), gasLimit });
      const { returnValue, executionGasUsed, exceptionError } = result.execResult;
      return { returnHex: Buffer.from(returnValue).toString('hex'), gasUsed: executionGasUsed, ...(exceptionError ? { error: exceptionError.error } : {}) };
    },
  };
}
