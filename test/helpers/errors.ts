import { expect } from 'vitest';
import { ZkinferError } from '../../src/util/errors.js';

/** `run` must throw a ZkinferError with `code` whose message contains every fragment. */
export function expectZkinferError(run: () => unknown, code: string, ...fragments: string[]): void {
  let error: unknown;
  try {
    run();
  } catch (err) {
    error = err;
  }
  expect(error, 'should fail').toBeInstanceOf(ZkinferError);
  expect((error as ZkinferError).code).toBe(code);
  for (const f of fragments) expect((error as ZkinferError).message).toContain(f);
}
