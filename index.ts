// The package entry: the compiler (host-free) and the runtime, so a script can
// `import { compile, simulate, run } from 'pipec'`.
export * from './compiler/index.ts';
export { run, verify, profile, openSession, listBackends, useBackend, defineLayer, RuntimeFault } from './runtime/index.ts';
export type { RunOptions, RunResult, VerifyOptions, VerifyResult, ProfileOptions, ProfileResult, ExecutionMode } from './runtime/index.ts';
