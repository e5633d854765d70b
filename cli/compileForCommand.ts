// The one way a command turns a user's FILE into a compilation: read it
// through the Node host, ask the core for the phases the command needs, and
// render what stopped it the way every command renders it. No phase is
// chained here; the core's compileFile runs them.

import { compileFile, succeeded, type Compilation, type CostChoice, type Phase } from '../compiler/index.ts';
import { readExternModule } from '../runtime/index.ts';
import { costChoice, createNodeHost, entryName, readOptionsFor, unreadableReason, type CostFlags } from './io.ts';
import { renderCompilationProblems, renderDiagnostics } from './render.ts';

export interface CommandCompileOptions extends CostFlags {
  readonly pipeline?: string;
  readonly format?: 'text' | 'json';
  readonly color?: boolean;
  readonly maxErrors?: number;
  readonly until?: Phase;
  /** `pipec tune`: the program's own auto split may overflow memory (tune replaces it); see CompileRequest.autoStagesMemory. */
  readonly autoStagesMemory?: 'fit' | 'check-later';
}

export type CommandCompilation =
  | { readonly ok: true; readonly compilation: Compilation; /** Rendered warnings, for the caller to print. */ readonly warnings: string }
  | { readonly ok: false; readonly compilation?: Compilation; readonly errorOutput: string; readonly exitCode: number };

/** FILE compiled as far as `options.until` (default verify) for `purpose` ('simulate', 'train', ...). */
export function compileForCommand(file: string, purpose: string, options: CommandCompileOptions = {}): CommandCompilation {
  const unreadable = unreadableReason(file);
  if (unreadable !== undefined) return { ok: false, errorOutput: `pipec: ${file} ${unreadable}\n`, exitCode: 2 };
  const costs = costChoice(options);
  if ('error' in costs) return { ok: false, errorOutput: costs.error, exitCode: 2 };
  const compilation = compileFile(entryName(file), createNodeHost(), {
    pipeline: options.pipeline, readExternModule, until: options.until, ...readOptionsFor(file),
    ...(options.autoStagesMemory === undefined ? {} : { autoStagesMemory: options.autoStagesMemory }), ...(costs.choice ? { costs: costs.choice as CostChoice } : {}),
  });
  const render = { color: options.color ?? false, format: options.format ?? 'text', maxErrors: options.maxErrors } as const;
  if (!succeeded(compilation)) {
    const problems = renderCompilationProblems(compilation, { ...render, purpose });
    return { ok: false, compilation, errorOutput: problems.text, exitCode: Math.max(1, problems.exitCode) };
  }
  const warnings = compilation.diagnostics.length === 0 ? '' : renderDiagnostics(compilation.diagnostics, compilation.sources, render);
  return { ok: true, compilation, warnings };
}
