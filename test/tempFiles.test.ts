import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateDevPtau } from '../src/setup/devPtau.js';
import { produceDirAtomic, tempSibling } from '../src/util/fs.js';

/**
 * A killed compile or setup leaves its temporary folder or ptau behind (the process gets no chance to
 * clean up); the next run that writes the same target removes them, but never a live writer's.
 */
const root = path.resolve(import.meta.dirname, '..');

/** The temp-sibling name `target` would get from process `pid` (same host). */
function tempOf(target: string, pid: number): string {
  return tempSibling(target).replace(new RegExp(`-${process.pid}-([0-9a-f]{8})$`), `-${pid}-$1`);
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

describe('temporary files of killed runs', () => {
  it('a `zkinfer ptau` killed mid-write leaves its temp ptau; the next generation of that file removes it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-killed-'));
    const target = path.join(dir, 'dev.ptau');
    const child = spawn(process.execPath, [path.join(root, 'bin', 'zkinfer.js'), 'ptau', '--power', '13', '-o', target], { stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    let temps: string[] = [];
    while (temps.length === 0) {
      await new Promise((r) => setTimeout(r, 50));
      temps = (await readdir(dir)).filter((n) => n.startsWith('.dev.ptau.tmp-'));
    }
    child.kill('SIGKILL');
    await exited;
    expect(await readdir(dir)).toEqual(temps); // the kill left it, and no ptau
    // Another writer's temp that is still alive (our parent process) is left alone.
    const live = tempOf(target, process.ppid);
    await writeFile(live, 'in progress');
    await generateDevPtau(2, target);
    expect((await readdir(dir)).sort()).toEqual([path.basename(live), 'dev.ptau'].sort());
  }, 120_000);

  it('produceDirAtomic removes the half-built folder of a dead process, not one of a live process', async () => {
    const parent = await mkdtemp(path.join(os.tmpdir(), 'zkinfer-stale-'));
    const target = path.join(parent, 'entry');
    const stale = tempOf(target, await deadPid());
    const live = tempOf(target, process.ppid);
    for (const d of [stale, live]) {
      await mkdir(d);
      await writeFile(path.join(d, 'model.r1cs'), 'half');
    }
    await produceDirAtomic(target, async (tmp) => writeFile(path.join(tmp, 'done.bin'), 'whole'));
    expect((await readdir(parent)).sort()).toEqual([path.basename(live), 'entry'].sort());
  });
});
