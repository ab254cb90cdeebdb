import { FIELD_P } from '../circuit/witness.js';
import { ZkinferError } from '../util/errors.js';

/** CLI pieces of private weights (--weights private, --weights-file, --weights-salt); commit-weights is graphCommands.ts's. */
export interface WeightsFlags {
  /** 'constant' (default) or 'private'. */
  weights?: string;
  /** Another model (.onnx or model.json) of the same architecture whose weights to prove with. */
  weightsFile?: string;
  /** Decimal salt of the weights commitment. */
  weightsSalt?: string;
}

/** The visibility field for --weights: absent for constant weights, so default circuits stay as they were. */
export function weightsVisibility(flags: WeightsFlags): { weights?: 'private' } {
  if (flags.weights !== undefined && flags.weights !== 'constant' && flags.weights !== 'private') {
    throw new ZkinferError('BAD_INPUT', `--weights must be constant or private (got ${flags.weights})`);
  }
  return flags.weights === 'private' ? { weights: 'private' } : {};
}

export function parseWeightsSalt(text: string): bigint {
  if (!/^(0|[1-9]\d*)$/.test(text) || BigInt(text) >= FIELD_P) throw new ZkinferError('BAD_INPUT', '--weights-salt must be a decimal field element in [0, p)');
  return BigInt(text);
}
