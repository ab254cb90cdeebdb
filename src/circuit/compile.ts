import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { readR1cs } from 'r1csfile';
import { ZkinferError } from '../util/errors.js';
import { PACKAGE_ROOT, defaultArtifactsDir, exists, produceDirAtomic, sha256Hex, writeFileAtomic } from '../util/fs.js';

/**
 * Compile circom source with circom 2 (the WebAssembly build from the npm package circom2) into r1cs,
 * witness wasm and symbols, cached under artifacts/circuits/<hash of source, template library, compiler>.
 */
const require = createRequire(import.meta.url);
export const CIRCUITS_DIR = path.join(PACKAGE_ROOT, 'circuits');
/** The node_modules folder holding circomlib (templates include "circomlib/circuits/..."): the package's own, or the app's when installed. */
export const CIRCOMLIB_PARENT = path.dirname(path.dirname(require.resolve('circomlib/package.json')));

export interface CompiledCircuit {
  /** Content hash of everything that produced the artifacts. */
  hash: string;
  dir: string;
  circomPath: string;
  r1csPath: string;
  wasmPath: string;
  symPath: string;
  constraints: number;
  wires: number;
  publicInputs: number;
  outputs: number;
  privateInputs: number;
}

interface CompileInfo {
  constraints: number;
  wires: number;
  publicInputs: number;
  outputs: number;
  privateInputs: number;
}

function circomCli(): string {
  return require.resolve('circom2/cli.js');
}

export async function libraryFingerprint(): Promise<string> {
  // The hand-written templates are part of what produced a circuit: changing one invalidates the cache.
  const parts: string[] = [require('circom2/package.json').version as string, require('circomlib/package.json').version as string];
  // Subfolders too, should the library grow into them.
  const files = (await readdir(CIRCUITS_DIR, { recursive: true })).filter((f) => f.endsWith('.circom')).sort();
  for (const f of files) parts.push(f, await readFile(path.join(CIRCUITS_DIR, f), 'utf8'));
  return sha256Hex(parts.join('\0'));
}

/** Run the circom compiler in a child process (it calls exit() itself) and collect its output. */
function runCircom(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    // circom2's WASI layer resolves paths relative to cwd without '..': run from / with absolute paths.
    const child = spawn(process.execPath, [circomCli(), ...args], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

export async function compileCircom(source: string, options: { name?: string; artifactsDir?: string; includeDirs?: string[] } = {}): Promise<CompiledCircuit> {
  const name = options.name ?? 'model';
  const includeDirs = [CIRCUITS_DIR, CIRCOMLIB_PARENT, ...(options.includeDirs ?? [])];
  const hash = sha256Hex([await libraryFingerprint(), name, source].join('\0'));
  const dir = path.join(options.artifactsDir ?? defaultArtifactsDir(), 'circuits', hash.slice(0, 16));
  const files = (d: string) => ({
    circomPath: path.join(d, `${name}.circom`),
    r1csPath: path.join(d, `${name}.r1cs`),
    wasmPath: path.join(d, `${name}_js`, `${name}.wasm`),
    symPath: path.join(d, `${name}.sym`),
    infoPath: path.join(d, 'info.json'),
  });

  if (!(await exists(files(dir).infoPath))) {
    await produceDirAtomic(dir, async (tmp) => {
      const f = files(tmp);
      await writeFile(f.circomPath, source);
      const args = [f.circomPath, '--r1cs', '--wasm', '--sym', '--O2', '-o', tmp, ...includeDirs.flatMap((d) => ['-l', d])];
      const { code, output } = await runCircom(args);
      const text = stripAnsi(output);
      if (code !== 0 || !/Everything went okay/.test(text)) {
        const firstError = text.split('\n').find((l) => /error/i.test(l)) ?? text.trim().split('\n').slice(-3).join(' ');
        throw new ZkinferError('COMPILE_FAILED', `circom failed: ${firstError.trim()}`);
      }
      // Header only, single-threaded: snarkjs.r1cs.info would start curve workers that are never stopped.
      const info = await readR1cs(f.r1csPath, false, false, true);
      await info.curve?.terminate();
      const record: CompileInfo = {
        constraints: info.nConstraints,
        wires: info.nVars,
        publicInputs: info.nPubInputs,
        outputs: info.nOutputs,
        privateInputs: info.nPrvInputs,
      };
      await writeFileAtomic(f.infoPath, JSON.stringify(record, null, 2));
    });
  }
  const f = files(dir);
  const info = JSON.parse(await readFile(f.infoPath, 'utf8')) as CompileInfo;
  return { hash, dir, circomPath: f.circomPath, r1csPath: f.r1csPath, wasmPath: f.wasmPath, symPath: f.symPath, ...info };
}
