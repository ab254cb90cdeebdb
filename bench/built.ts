/**
 * A built (compiled + set up) benchmark model, saved as JSON by the build step so that proving runs in a
 * separate process (its peak RSS is then the prover's alone) and in worker threads.
 */
import { readFile } from 'node:fs/promises';
import type { CompiledModel } from '../src/setup/index.js';
import { writeFileAtomic } from '../src/util/fs.js';
import type { Impl } from './models.js';

export interface BuiltModel {
  impl: Impl;
  variant: string;
  model: CompiledModel;
}

export async function saveBuilt(file: string, built: BuiltModel): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(built));
}

export async function loadBuilt(file: string): Promise<BuiltModel> {
  return JSON.parse(await readFile(file, 'utf8')) as BuiltModel;
}
