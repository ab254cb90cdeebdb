import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { E2E_TESTS } from '../vitest.config.js';

// vitest skips an include entry that matches nothing: a renamed e2e test would silently run as a unit test.
describe('vitest projects', () => {
  it('every listed end-to-end test file exists', () => {
    const root = path.resolve(import.meta.dirname, '..');
    expect(E2E_TESTS.filter((f) => !existsSync(path.join(root, f)))).toEqual([]);
  });
});
