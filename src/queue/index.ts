/** `zkinfer/queue`: proving back ends for the server: BullMQ on Redis, or in-process prover threads. */
export {
  BullProveQueue,
  startProveWorker,
  DEFAULT_QUEUE,
  type ProveJobData,
  type ProveWorker,
  type WorkerOptions as ProveWorkerOptions,
  type QueueConnectionOptions,
} from './bullmq.js';
export { LocalProveBackend, type LocalBackendOptions } from './localBackend.js';
export { ProverThreads, ProveFailure } from './proverThreads.js';
export { storeModel, loadStoredModel, manifestPath } from '../prove/modelStore.js';
export type { ProveBackend, JobStatus, JobState, SubmitOptions } from './backend.js';
