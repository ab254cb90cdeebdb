import type { OpDef } from './types.js';

export const nonlinearOps: OpDef[] = [];
