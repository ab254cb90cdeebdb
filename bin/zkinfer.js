#!/usr/bin/env node
// Development launcher: runs the CLI from the TypeScript sources through tsx (a dev dependency), as the
// tests and `npm run demo` do. The published package's `zkinfer` command is the built dist/cli/main.js.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
