// What several commands share: option parsers, writing an output file, and
// turning a FILE into compiled streams with the costs the flags ask for —
// one place, so compile, export, simulate and train agree on the order.

import { readFileSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import type { Diagnostic } from '../grammar/diagnostic.ts';
import { deriveCostModel, readCostsFile } from '../compiler/cost/costModel.ts';
import { unitCostModel, type CostModel } from '../compiler/cost/types.ts';
import type { IrProgram } from '../compiler/ir/types.ts';
import { compileProgram } from '../compiler/lower/compile.ts';
import type { CheckedProgram } from '../compiler/program.ts';
import type { ComputeSchedule } from '../compiler/schedule/types.ts';
import { loadAndCheck } from './loadProgram.ts';
import { renderDiagnostics, summarizeDiagnostics } from './render.ts';

/** A commander argument parser for flags such as -p and -m. */
export const positiveInteger = (flag: string) => (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError(`${flag} must be a positive whole number, got '${value}'`);
  return number;
};

export function writeOutput(file: string | undefined, text: string): number {
  if (file === undefined || file === '-') {
    process.stdout.write(text);
    return 0;
  }
  try {
    writeFileSync(file, text);
    return 0;
  } catch (error) {
    const reason = error instanceof Error && 'code' in error && error.code === 'ENOENT' ? 'its folder does not exist' : error instanceof Error ? error.message : String(error);
    process.stderr.write(`pipec: cannot write ${file}: ${reason}\n`);
    return 2;
  }
}

/**
 * The cost model `pipec compile` and `pipec export` hand the list and
 * automatic schedulers: `--unit`, `--costs FILE`, or the one derived from
 * the program's FLOPs and links — the default of `pipec simulate`, so the
 * order compiled is the order simulated.
 */
export function costsFor(
  program: CheckedProgram,
  options: { readonly costs?: string; readonly unit?: boolean; readonly color?: boolean },
): { model?: CostModel } | { errorOutput: string; exitCode: number } {
  if (options.unit) return { model: unitCostModel(program.pipeline.stages.length) };
  if (options.costs === undefined) return { model: deriveCostModel(program) };
  let text: string;
  try {
    text = readFileSync(options.costs, 'utf8');
  } catch {
    return { errorOutput: `pipec: ${options.costs} does not exist or is not readable\n`, exitCode: 2 };
  }
  const read = readCostsFile(text, options.costs, program);
  if (!read.costs) {
    return { errorOutput: renderDiagnostics(read.diagnostics, new Map([[options.costs, text]]), { color: options.color ?? false, format: 'text' }), exitCode: 1 };
  }
  return { model: read.costs };
}

/** The flags every command that compiles a FILE takes. */
export interface CompileFlags {
  readonly pipeline?: string;
  readonly format: 'text' | 'json';
  readonly color: boolean;
  /** Measured costs file (`pipec profile`), for rule and auto schedules. */
  readonly costs?: string;
  /** Unit costs (F = I = W = 1, B = 2) instead of the derived ones. */
  readonly unit?: boolean;
}

export type FileCompilation =
  | { readonly kind: 'failed'; readonly errorOutput: string; readonly exitCode: number }
  | { readonly kind: 'compiled'; readonly ir: IrProgram; readonly schedule: ComputeSchedule; readonly program: CheckedProgram; readonly warnings: string };

/**
 * Load, check and compile FILE under the costs the flags name. Errors come
 * back rendered (exit 1; a missing file or costs file exits 2); warnings of
 * a successful compilation are rendered too, for the caller to print.
 */
export function compileFile(
  file: string,
  purpose: string,
  options: CompileFlags,
): FileCompilation {
  const loaded = loadAndCheck(file, { pipeline: options.pipeline });
  if (loaded.kind === 'missing') return { kind: 'failed', errorOutput: `${loaded.message}\n`, exitCode: 2 };
  const diagnostics: Diagnostic[] = [...loaded.diagnostics];
  const render = (): string => {
    const rendered = renderDiagnostics(diagnostics, loaded.sources, { color: options.color, format: options.format });
    const summary = summarizeDiagnostics(diagnostics);
    return options.format === 'json' || summary === undefined ? rendered : `${rendered}${file}: ${summary}\n`;
  };
  if (!loaded.ok || !loaded.program) {
    if (!loaded.program && diagnostics.length === 0) return { kind: 'failed', errorOutput: `${file}: no pipeline to ${purpose}\n`, exitCode: 1 };
    return { kind: 'failed', errorOutput: render(), exitCode: 1 };
  }
  const costs = costsFor(loaded.program, options);
  if ('errorOutput' in costs) return { kind: 'failed', ...costs };
  const compiled = compileProgram(loaded.program, costs.model ? { costs: costs.model } : {});
  diagnostics.push(...compiled.diagnostics);
  if (diagnostics.some((d) => d.severity === 'error') || !compiled.ir || !compiled.schedule) {
    return { kind: 'failed', errorOutput: render(), exitCode: 1 };
  }
  return { kind: 'compiled', ir: compiled.ir, schedule: compiled.schedule, program: loaded.program, warnings: diagnostics.length > 0 ? render() : '' };
}
