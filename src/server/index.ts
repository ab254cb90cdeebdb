/** `zkinfer/server`: the HTTP verification (and proving) service and the key registry it serves from. */
export { buildApp, DEFAULT_BODY_LIMIT, type AppOptions, type ModelSummary } from './app.js';
export { startServer, type ServeOptions, type RunningServer } from './serve.js';
export { loadKeyRegistry, createKeyRegistry, verifyWithRegistry, type KeyRegistry, type KeyEntry, type RegistryVerdict, type VerifyFailure } from '../verify/registry.js';
