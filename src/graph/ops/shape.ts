import type { OpDef } from './types.js';

export const shapeOps: OpDef[] = [];
