import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { poseidonHash } from '../src/format/commitment.js';
import { endModuleWorker, startModuleWorker } from '../src/util/moduleWorker.js';

/** A worker that handles { type: 'close' } as the package's workers do, or ignores it. */
function evalWorker(handlesClose: boolean): Worker {
  const code = `const { parentPort } = require('node:worker_threads');
    parentPort.on('message', (m) => { if (m.type === 'close' && ${handlesClose}) parentPort.close(); });
    parentPort.postMessage({ type: 'ready' });`;
  return new Worker(code, { eval: true });
}

const ready = (w: Worker) => new Promise((resolve) => w.once('message', resolve));

describe('endModuleWorker', () => {
  it('lets a worker that honours close end by itself (exit code 0, not terminated)', async () => {
    const w = evalWorker(true);
    await ready(w);
    const code = new Promise<number>((resolve) => w.once('exit', resolve));
    expect(await endModuleWorker(w, 10_000)).toBe('ended');
    expect(await code).toBe(0);
  });

  it('terminates a worker that ignores close once the grace has passed', async () => {
    const w = evalWorker(false);
    await ready(w);
    const code = new Promise<number>((resolve) => w.once('exit', resolve));
    expect(await endModuleWorker(w, 200)).toBe('terminated');
    expect(await code).toBe(1); // what terminate() gives
  });

  it.each([
    ['prover thread', '../src/queue/proverThread.js'],
    ['dev ptau worker', '../src/setup/devPtauWorker.js'],
  ])(
    'the %s ends by itself on close',
    async (_name, rel) => {
      const w = startModuleWorker(new URL(rel, import.meta.url));
      if (rel.includes('proverThread')) await ready(w); // it posts ready once its curve is built
      expect(await endModuleWorker(w, 20_000)).toBe('ended');
    },
    60_000,
  );
});

describe('prover threads in a process that hashes', () => {
  // circomlibjs's package entry loads blake-hash, a native addon that corrupts the heap once it is loaded
  // in the main thread and in a worker that exits: this process died (free(): invalid pointer) within a
  // few of these cycles, and so did `zkinfer serve-prover` and the BullMQ worker on shutdown.
  it('start and end 12 times without the process crashing, and load no native hash addon', async () => {
    expect(await poseidonHash([1n, 2n])).toBe(7853200120776062878684798364095072458815029376092732009249414926327459813530n);
    for (let i = 0; i < 12; i++) {
      const w = startModuleWorker(new URL('../src/queue/proverThread.js', import.meta.url));
      await ready(w);
      expect(await endModuleWorker(w, 20_000)).toBe('ended');
    }
    if (process.platform === 'linux') expect(readFileSync('/proc/self/maps', 'utf8')).not.toMatch(/blake-hash/);
  }, 120_000);
});
