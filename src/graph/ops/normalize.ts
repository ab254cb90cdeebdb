import type { OpDef } from './types.js';

export const normalizeOps: OpDef[] = [];
