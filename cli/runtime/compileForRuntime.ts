// What train, profile and verify share: load + check + compile a program
// (diagnostics rendered the way every command renders them), pick the
// execution mode, and report runtime failures.

import { availableParallelism } from 'node:os';
import type { IrProgram } from '../../compiler/ir/types.ts';
import { compileProgram } from '../../compiler/lower/compile.ts';
import type { Diagnostic } from '../../grammar/diagnostic.ts';
import type { BackendName } from '../../runtime/backends.ts';
import { RuntimeFault } from '../../runtime/messages.ts';
import { loadAndCheck } from '../loadProgram.ts';
import { renderDiagnostics, summarizeDiagnostics } from '../render.ts';

export type CompiledForRuntime =
  | { readonly kind: 'ok'; readonly ir: IrProgram; readonly steps?: number }
  | { readonly kind: 'failed'; readonly exitCode: number };

export function compileForRuntime(file: string, options: { readonly pipeline?: string }): CompiledForRuntime {
  const loaded = loadAndCheck(file, { pipeline: options.pipeline });
  if (loaded.kind === 'missing') {
    process.stderr.write(`${loaded.message}\n`);
    return { kind: 'failed', exitCode: 2 };
  }
  const diagnostics: Diagnostic[] = [...loaded.diagnostics];
  const color = process.stderr.isTTY === true && !process.env.NO_COLOR;
  const report = (): void => {
    const rendered = renderDiagnostics(diagnostics, loaded.sources, { color, format: 'text' });
    const summary = summarizeDiagnostics(diagnostics);
    process.stderr.write(summary === undefined ? rendered : `${rendered}${file}: ${summary}\n`);
  };
  if (!loaded.ok || !loaded.program) {
    if (diagnostics.length === 0) process.stderr.write(`${file}: no pipeline to train\n`);
    else report();
    return { kind: 'failed', exitCode: 1 };
  }
  const compiled = compileProgram(loaded.program);
  diagnostics.push(...compiled.diagnostics);
  if (!compiled.ir) {
    report();
    return { kind: 'failed', exitCode: 1 };
  }
  if (diagnostics.length > 0) report();
  return { kind: 'ok', ir: compiled.ir, steps: loaded.program.pipeline.steps };
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
