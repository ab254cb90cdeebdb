import { describe, expect, it } from 'vitest';
import { snarkjsProgressLogger, snarkjsStage } from '../src/util/snarkjsProgress.js';

/** snarkjs's log lines (as snarkjs 0.7 writes them in zkey_new, mpc_applykey, groth16_prove and ffjavascript's multiexp) become progress counts. */
describe('snarkjs progress logger', () => {
  const collect = () => {
    const calls: Array<[string, number, number]> = [];
    const logger = snarkjsProgressLogger('zkey', (stage, done, total) => calls.push([stage, done, total]));
    return { calls, logger };
  };

  it('turns counted lines into stage, done, total', () => {
    const { calls, logger } = collect();
    logger.debug('processing constraints: 120000/228052');
    logger.debug('Writing points end B2: 40000/262144');
    logger.debug('Applying key: L Section: 0/229000');
    logger.debug('Multiexp end: multiexp A: 65536/228341');
    expect(calls).toEqual([
      ['zkey processing constraints', 120000, 228052],
      ['zkey writing points b2', 40000, 262144],
      ['zkey applying key l section', 0, 229000],
      ['zkey multiexp a', 65536, 228341],
    ]);
  });

  it('drops start lines (snarkjs logs every chunk start before any end), FFT rounds, uncounted lines, warnings and errors', () => {
    const { calls, logger } = collect();
    logger.debug('Multiexp start: multiexp A: 131072/228341');
    logger.debug('Writing points start A: 0/228341');
    logger.info('Reading r1cs');
    logger.info('Circuit hash: 1234 5678');
    logger.debug('Reading Wtns');
    logger.warn('snarkJS: 3/4 warning');
    logger.error('bad: 1/2');
    logger.debug('empty: 0/0');
    logger.debug('ifft_a: fft 14 join 14/14 1/1 0/1');
    logger.debug('fft_b: fft 14 mix 0/2');
    expect(calls).toEqual([]);
  });

  it('never reports more done than total', () => {
    const { calls, logger } = collect();
    logger.debug('QAP AB: 5/3');
    expect(calls).toEqual([['zkey qap ab', 3, 3]]);
  });

  it('names stages without the repeated step word', () => {
    expect(snarkjsStage('Multiexp end: multiexp H')).toBe('multiexp h');
    expect(snarkjsStage('HashingHPoints')).toBe('hashinghpoints');
  });
});
