import path from 'node:path';
import { keyRegistryDir } from '../setup/index.js';
import { startServer } from '../server/serve.js';
import { DEFAULT_BODY_LIMIT } from '../server/app.js';
import { ZkinferError } from '../util/errors.js';
import { exists, readJsonFile, writeFileAtomic } from '../util/fs.js';
import { parseKey } from '../format/key.js';
import { EIP170_CODE_LIMIT, encodeVerifyProofCall, estimateVerifierRuntimeBytes, solidityCallData, solidityVerifier } from '../verify/solidity.js';

/** CLI commands of the verification API: `serve`, `export-verifier`, `export-calldata`. */

function positiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new ZkinferError('BAD_INPUT', `${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

export interface ServeFlags {
  keys?: string;
  artifacts?: string;
  port: string;
  host: string;
  bodyLimit?: string;
  quiet?: boolean;
}

/** `zkinfer serve`: runs until SIGINT/SIGTERM, then returns once in-flight requests are answered. */
export async function serveCommand(flags: ServeFlags): Promise<void> {
  const running = await startServer({
    keysDir: flags.keys ?? keyRegistryDir(flags.artifacts),
    port: flags.port,
    host: flags.host,
    bodyLimit: flags.bodyLimit === undefined ? DEFAULT_BODY_LIMIT : positiveInt(flags.bodyLimit, '--body-limit'),
    logger: { level: flags.quiet ? 'warn' : 'info' },
  });
  await running.closed;
}

/** A key given as a file, or as a model id filed under artifacts/keys/by-id. */
async function readKeyArg(keyArg: string, artifacts?: string): Promise<unknown> {
  if (/^[0-9a-f]{64}$/.test(keyArg) && !(await exists(keyArg))) {
    return readJsonFile(path.join(keyRegistryDir(artifacts), `${keyArg}.json`), 'verification key', 'BAD_KEY');
  }
  return readJsonFile(keyArg, 'verification key', 'BAD_KEY');
}

export async function exportVerifierCommand(flags: { key: string; out: string; artifacts?: string; contractName?: string }): Promise<void> {
  const key = parseKey(await readKeyArg(flags.key, flags.artifacts));
  const source = solidityVerifier(key, { contractName: flags.contractName });
  await writeFileAtomic(flags.out, source);
  const n = key.publicSignals.total;
  process.stdout.write(`wrote ${flags.out}: contract ${flags.contractName ?? 'Groth16Verifier'}, verifyProof(a, b, c, uint256[${n}] pubSignals)\n`);
  const estimate = estimateVerifierRuntimeBytes(n);
  if (estimate > EIP170_CODE_LIMIT) {
    process.stderr.write(
      `WARNING: ${n} public signals: the compiled contract will be about ${(estimate / 1024).toFixed(0)} KiB of code, over the ` +
        `${EIP170_CODE_LIMIT}-byte EIP-170 limit, so mainnet and most L2s will refuse to deploy it (fits up to ~236 signals).\n`,
    );
  }
  if (key.setup.ptau.insecure) process.stderr.write('WARNING: this key comes from a local INSECURE setup; whoever ran it can forge proofs the contract accepts.\n');
}

/** `zkinfer export-calldata`: the verifyProof arguments of a bundle, as snarkjs prints them or ABI-encoded. */
export async function exportCalldataCommand(file: string, flags: { out?: string; abi?: boolean }): Promise<void> {
  const bundle = await readJsonFile(file, 'proof bundle', 'BAD_BUNDLE');
  const text = flags.abi ? encodeVerifyProofCall(bundle) : await solidityCallData(bundle);
  if (flags.out) await writeFileAtomic(flags.out, `${text}\n`);
  else process.stdout.write(`${text}\n`);
}
