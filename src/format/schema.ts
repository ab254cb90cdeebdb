import type { z } from 'zod';
import { ZkinferError, type ZkinferErrorCode } from '../util/errors.js';

/** Parse with a zod schema; a failure names the first bad field by its path (e.g. proof.pi_a[1]). */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string, code: ZkinferErrorCode): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue.path.length ? issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') : '(root)';
  throw new ZkinferError(code, `malformed ${what}: ${where}: ${issue.message}`);
}
