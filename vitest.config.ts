import { defineConfig } from 'vitest/config';

// Proving tests compile circuits and run trusted setups: minutes, not the 5 s default.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
