import type { OpDef } from './types.js';

export const linearOps: OpDef[] = [];
