import type { OpDef } from './types.js';

export const compareOps: OpDef[] = [];
