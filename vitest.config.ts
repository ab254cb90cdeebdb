import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * End-to-end tests: a Groth16 setup and proof, a spawned CLI, server or worker, Redis, Chromium, or an
 * `npm pack` install. Everything else under test/ is a unit test (import, lowering, quantization,
 * circuits compiled and checked against the integer reference), so a new file is a unit test unless it
 * is listed here. `npm run test:unit` / `npm run test:e2e` run one project; `npm test` runs both.
 */
export const E2E_TESTS = [
  'test/baseline.test.ts',
  'test/batch.test.ts',
  'test/browser.test.ts',
  'test/devPtau.test.ts',
  'test/errors.test.ts',
  'test/graphBundled.test.ts',
  'test/graphEndToEnd.test.ts',
  'test/graphLink.test.ts',
  'test/graphPrivateWeights.test.ts',
  'test/graphSplit.test.ts',
  'test/modelStore.test.ts',
  'test/moduleWorker.test.ts',
  'test/package.test.ts',
  'test/pipeline.test.ts',
  'test/privacy.test.ts',
  'test/privateWeights.test.ts',
  'test/proveServer.test.ts',
  'test/provingQueue.test.ts',
  'test/registry.test.ts',
  'test/residual.test.ts',
  'test/server.test.ts',
  'test/setup.test.ts',
  'test/solidity.test.ts',
  'test/tempFiles.test.ts',
];

// Proving tests compile circuits and run trusted setups: minutes, not the 5 s default.
// Projects inherit these (extends: true); `include` is set per project only, since inherited arrays are concatenated.
export default defineConfig({
  test: {
    testTimeout: 300_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // Vitest's default is one fork per core but one, so a single fork on 2 cores. Much of a proving test
    // waits on a child (circom, the CLI, Redis, Chromium): two forks cut `npm test` here from 956 s to
    // ~700 s (unit 277 -> 214 s, e2e 646 -> 456 s), which CI's 30-minute limit on 2 cores needs.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...E2E_TESTS] } },
      { extends: true, test: { name: 'e2e', include: E2E_TESTS } },
    ],
  },
});
