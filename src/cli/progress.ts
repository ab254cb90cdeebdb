import cliProgress from 'cli-progress';

/**
 * Progress output for long steps: a bar when stderr is a terminal, plain stage lines otherwise (CI logs).
 * Everything goes to stderr so stdout carries only results.
 */
export interface Progress {
  stage(name: string): void;
  update(stage: string, done: number, total: number): void;
  stop(): void;
}

const LOG_EVERY_MS = 10_000;

export function createProgress(quiet = false): Progress {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const tty = process.stderr.isTTY && !quiet;
  let bar: cliProgress.SingleBar | undefined;
  let barStage = '';
  let lastLine = started;
  const closeBar = () => {
    bar?.stop();
    bar = undefined;
    barStage = '';
  };
  return {
    stage(name) {
      closeBar();
      if (!quiet) process.stderr.write(`[${elapsed()}] ${name}\n`);
    },
    update(stage, done, total) {
      if (!tty) {
        // A log, not a terminal: at most one line per LOG_EVERY_MS with the step then running, so a long setup shows it is alive and a short one stays quiet.
        const now = Date.now();
        if (quiet || now - lastLine < LOG_EVERY_MS) return;
        lastLine = now;
        process.stderr.write(`[${elapsed()}]   ${stage} ${done}/${total} (${total ? Math.floor((100 * done) / total) : 100}%)\n`);
        return;
      }
      if (barStage !== stage) {
        closeBar();
        bar = new cliProgress.SingleBar(
          { format: `  ${stage} [{bar}] {percentage}% | {value}/{total} | {duration}s`, stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done);
        barStage = stage;
      } else {
        bar?.setTotal(total);
        bar?.update(done);
      }
    },
    stop: closeBar,
  };
}
