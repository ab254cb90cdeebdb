/**
 * Structural ops: data movement (views, repeats, slices, joins, nearest resize), shape queries and
 * casts. Data movement lowers to a pick of input forms (ops/move.ts): exact and free in the circuit.
 */
import { metaOps } from './shapeMeta.js';
import { resizeOps } from './shapeResize.js';
import { sliceOps } from './shapeSlice.js';
import { viewOps } from './shapeView.js';
import type { OpDef } from './types.js';

export const shapeOps: OpDef[] = [...viewOps, ...sliceOps, ...resizeOps, ...metaOps];
