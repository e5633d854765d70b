// What train, profile and verify share: the core's compilation of FILE
// (diagnostics rendered the way every command renders them), the execution
// mode, and how runtime failures are reported.

import { availableParallelism } from 'node:os';
import { Option } from 'commander';
import type { IrProgram } from '../../compiler/index.ts';
import { BACKEND_NAMES, chooseBackend, DEFAULT_BACKEND, FALLBACK_BACKEND, RuntimeFault, type BackendName } from '../../runtime/index.ts';
import { compileForCommand } from '../compileForCommand.ts';
import { readOptionsFor, useColor } from '../io.ts';

export type CompiledForRuntime =
  | {
    readonly kind: 'ok'; readonly ir: IrProgram; readonly steps?: number;
    /** Where the compiler was allowed to read extern modules: the runtime imports them only from there. */
    readonly externFolders: readonly string[];
  }
  | { readonly kind: 'failed'; readonly exitCode: number };

export function compileForRuntime(file: string, options: { readonly pipeline?: string; readonly purpose: string }): CompiledForRuntime {
  const result = compileForCommand(file, options.purpose, { pipeline: options.pipeline, color: useColor(undefined) });
  if (!result.ok) {
    process.stderr.write(result.errorOutput);
    return { kind: 'failed', exitCode: result.exitCode };
  }
  if (result.warnings !== '') process.stderr.write(result.warnings);
  const access = readOptionsFor(file);
  return { kind: 'ok', ir: result.compilation.ir!, steps: result.compilation.program!.pipeline.steps, externFolders: [access.projectRoot, ...access.allowRead] };
}

/** `--backend`, shared by train, verify and profile; no value means the runtime's default (chosenBackend). */
export function backendOption(): Option {
  return new Option('--backend <backend>', `TensorFlow.js backend (default: ${DEFAULT_BACKEND}, or ${FALLBACK_BACKEND} where ${DEFAULT_BACKEND} cannot start)`).choices([...BACKEND_NAMES]);
}

/** The backend named by --backend, or the default; says on stderr when the default fell back. */
export async function chosenBackend(requested: BackendName | undefined, command: string): Promise<BackendName> {
  const choice = await chooseBackend(requested);
  if (choice.note) process.stderr.write(`pipec ${command}: note: ${choice.note}\n`);
  return choice.backend;
}

export interface ModeFlags {
  readonly workers?: boolean;
  readonly inProcess?: boolean;
}

/**
 * Worker threads pay off on CPU backends when every device gets a core; with
 * fewer cores than devices they only contend (measured: 4 workers on 2 cores
 * ran the MLP sample at 250 examples/s, one thread at 350). One GPU is best
 * driven from one thread.
 */
export function defaultMode(flags: ModeFlags, backend: BackendName, devices: number): 'workers' | 'in-process' {
  if (flags.workers) return 'workers';
  if (flags.inProcess) return 'in-process';
  if (backend === 'webgpu') return 'in-process';
  return availableParallelism() >= devices ? 'workers' : 'in-process';
}

export function reportRuntimeFailure(error: unknown, command: string): number {
  if (error instanceof RuntimeFault) {
    process.stderr.write(`pipec ${command}: error ${error.message}\n`);
    return 1;
  }
  throw error;
}
