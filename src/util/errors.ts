/**
 * One error type for every problem a user can cause (bad model, bad input, bad proof file, bad ptau).
 * The CLI prints `message` as a one-line reason; `code` lets library callers branch without parsing text.
 */
export type ZkinferErrorCode = 'BAD_INPUT' | 'BAD_MODEL' | 'UNSUPPORTED_LAYER' | 'BAD_BUNDLE' | 'BAD_KEY' | 'BAD_PTAU' | 'COMPILE_FAILED' | 'NOT_FOUND';

export class ZkinferError extends Error {
  readonly code: ZkinferErrorCode;
  constructor(code: ZkinferErrorCode, message: string) {
    super(message);
    this.name = 'ZkinferError';
    this.code = code;
  }
}

export function fail(code: ZkinferErrorCode, message: string): never {
  throw new ZkinferError(code, message);
}
