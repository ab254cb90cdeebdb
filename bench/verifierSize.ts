/**
 * Does the bundled MNIST model's Solidity verifier fit on chain? Renders the contract from the model's
 * key, compiles it with solc-js, compares its size with EIP-170 (24,576-byte runtime code) and EIP-3860
 * (49,152-byte initcode), then deploys it in an in-process EVM with the size limits lifted and measures
 * the gas of verifying a real proof. Slow parts: building the model from a cold cache (~1 min).
 *   npx tsx bench/verifierSize.ts [--artifacts DIR]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModel } from '../src/index.js';
import { loadMnistSplit } from '../src/model/mnist.js';
import { prove } from '../src/prove/index.js';
import { encodeVerifyProofCall, solidityVerifier } from '../src/verify/solidity.js';
import { compileSolidity, createChain, EIP170_CODE_LIMIT, EIP3860_INITCODE_LIMIT, intrinsicGas } from '../test/helpers/evm.js';

export interface VerifierSizeResult {
  publicSignals: number;
  sourceBytes: number;
  solcVersion: string;
  compileSeconds: number;
  runtimeBytes: number;
  initcodeBytes: number;
  fitsEip170: boolean;
  fitsEip3860: boolean;
  /** Execution gas of verifyProof with a real proof (limits lifted), and with the tx's intrinsic gas added. */
  verifyGas: number;
  verifyTxGas: number;
  verifiedOnChain: boolean;
}

export async function benchVerifierSize(options: { artifactsDir?: string } = {}): Promise<VerifierSizeResult> {
  const model = await buildModel('mlp', { artifactsDir: options.artifactsDir });
  const source = solidityVerifier(model.key);
  const t = performance.now();
  const compiled = compileSolidity(source, 'Groth16Verifier');
  const compileSeconds = (performance.now() - t) / 1000;
  const bundle = await prove(model, loadMnistSplit().test[0].pixels);
  const chain = await createChain({ unlimitedCodeSize: true });
  const address = await chain.deploy(compiled.bytecode);
  const data = encodeVerifyProofCall(bundle);
  const call = await chain.call(address, data);
  if (call.error) throw new Error(`verifyProof reverted: ${call.error}`);
  const runtimeBytes = compiled.deployedBytecode.length / 2;
  const initcodeBytes = compiled.bytecode.length / 2;
  return {
    publicSignals: model.key.publicSignals.total,
    sourceBytes: Buffer.byteLength(source),
    solcVersion: compiled.solcVersion,
    compileSeconds,
    runtimeBytes,
    initcodeBytes,
    fitsEip170: runtimeBytes <= EIP170_CODE_LIMIT,
    fitsEip3860: initcodeBytes <= EIP3860_INITCODE_LIMIT,
    verifyGas: Number(call.gasUsed),
    verifyTxGas: Number(call.gasUsed) + intrinsicGas(data),
    verifiedOnChain: BigInt(`0x${call.returnHex}`) === 1n,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--artifacts');
  const result = await benchVerifierSize({ artifactsDir: i > 0 ? process.argv[i + 1] : undefined });
  console.log(JSON.stringify(result, null, 2));
  process.exit(0); // snarkjs's curve worker threads would keep the process alive
}
