/**
 * snarkjs reports how far its long steps are only through a logger (`debug` lines such as
 * `processing constraints: 120000/228052`, `Writing points end B2: 40000/262144`,
 * `Multiexp end: multiexp A: 65536/228341`). This turns those lines into onProgress(stage, done, total)
 * calls, so setup and proving of large models show progress like compile does. Lines without a count
 * are dropped; warnings and errors too, since snarkjs also throws for every error that matters here.
 */
export type OnProgress = (stage: string, done: number, total: number) => void;

export interface SnarkjsLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const COUNT = /^(.*?):?\s*(\d+)\/(\d+)\s*$/;

/** The stage name for one counted snarkjs line: `Multiexp end: multiexp A` -> `multiexp A`. */
export function snarkjsStage(label: string): string {
  const words = label
    .replace(/:/g, ' ')
    .replace(/\bend\b/gi, ' ')
    .split(/\s+/)
    .filter(Boolean);
  // "Multiexp multiexp A": the label repeats the step's own name.
  const deduped = words.filter((w, i) => i === 0 || w.toLowerCase() !== words[i - 1].toLowerCase());
  return deduped.join(' ').toLowerCase();
}

/** A logger for snarkjs's newZKey / contribute / groth16.prove that reports `${prefix} <step>` progress. */
export function snarkjsProgressLogger(prefix: string, onProgress: OnProgress): SnarkjsLogger {
  const report = (message: string) => {
    const m = COUNT.exec(String(message));
    // snarkjs logs "start i/n" for every chunk before any "end i/n"; only the ends measure work done.
    // ffjavascript's FFT rounds ("ifft_a: fft 14 join 14/14 1/1 0/1") are sub-second and nest counts: not progress worth showing.
    if (!m || /\bstart\b/i.test(m[1]) || /fft|\d\/\d/i.test(m[1])) return;
    const total = Number(m[3]);
    if (!(total > 0)) return;
    onProgress(`${prefix} ${snarkjsStage(m[1])}`, Math.min(Number(m[2]), total), total);
  };
  return { debug: report, info: report, warn: () => {}, error: () => {} };
}
