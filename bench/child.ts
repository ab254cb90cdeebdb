/** Runs one bench/measure.ts job in a fresh Node process with tsx, relaying its progress messages. */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, Job } from './measure.js';

const MEASURE = fileURLToPath(new URL('./measure.ts', import.meta.url));

export function runChild<T>(job: Job, onProgress?: (stage: string, done: number, total: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(MEASURE, [JSON.stringify(job)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: { value: T } | undefined;
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'progress') onProgress?.(m.stage, m.done, m.total);
      else result = { value: m.result as T };
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0 && result) resolve(result.value);
      else reject(new Error(`benchmark job ${job.kind} failed (exit ${code ?? signal})`));
    });
  });
}
