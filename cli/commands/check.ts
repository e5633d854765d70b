// `pipec check FILE... [--format text|json] [--pipeline NAME] [--no-color]`
// and `pipec check --torch-csv ORDER.csv` (a PyTorch schedule CSV: imported,
// validated, proven deadlock-free and timed under unit costs):
// diagnostics only. Everything the compiler can prove statically is checked:
// names, types and shapes, placement, and then — for a well-typed program —
// the schedule (every action once, dependencies, no deadlock) and each
// device's peak memory of every pipeline, through the core's compilation.
// Exit 0 when clean (warnings allowed), 1 when any file has errors, 2 for
// usage problems such as a missing file.

import type { Command } from 'commander';
import {
  compileFile, compileTorchCsv, orderSummary, verifyEveryPipeline, type Compilation,
} from '../../compiler/index.ts';
import { readExternModule } from '../../runtime/index.ts';
import { setExitCode } from '../exitCode.ts';
import { addFormatOptions, addMaxErrorsOption, chosenFormat, createNodeHost, entryName, readInputFile, readOptionsFor, unreadableReason, useColor } from '../io.ts';
import { renderDiagnostics, summarizeDiagnostics, toJsonDiagnostics } from '../render.ts';
import { addWatchOption, watchAndRerun } from '../watch.ts';

export interface CheckCommandOptions {
  readonly format: 'text' | 'json';
  readonly json?: boolean;
  readonly pipeline?: string;
  readonly color: boolean;
  readonly torchCsv?: string;
  readonly maxErrors?: number;
  readonly watch?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('check')
    .description('type-check .pipe programs and prove their schedules and memory (exit 0 clean, 1 errors, 2 usage)')
    .argument('[files...]', '.pipe files to check')
    .option('--torch-csv <file>', 'check a PyTorch pipeline schedule CSV instead (one row per rank, cells like 0F3, 1I2, 1W2)')
    .option('--pipeline <name>', "prove only this pipeline's schedule and memory (default: every pipeline of the file)")
    .option('--no-color', 'plain output without ANSI colours');
  addWatchOption(addMaxErrorsOption(addFormatOptions(command, ['text', 'json'], 'text')))
    .action(async (files: string[], raw: CheckCommandOptions) => {
      const options = { ...raw, format: chosenFormat(raw, 'text'), color: useColor(raw.color, process.stdout) };
      if (files.length === 0 && options.torchCsv === undefined) {
        process.stderr.write('pipec check: name at least one .pipe file, or --torch-csv FILE\n');
        setExitCode(2);
        return;
      }
      const once = () => printChecks(files, options);
      if (options.watch) await watchAndRerun(once, [...files, ...(options.torchCsv === undefined ? [] : [options.torchCsv])]);
      else once();
    });
}

/** One check of the files (and CSV), printed; the exit code raised. */
function printChecks(files: readonly string[], options: CheckCommandOptions): void {
  for (const result of [
    ...(options.torchCsv === undefined ? [] : [runTorchCsvCheck(options.torchCsv, options)]),
    ...(files.length > 0 ? [runCheck(files, options)] : []),
  ]) {
    if (result.output !== '') process.stdout.write(result.output);
    if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
    setExitCode(result.exitCode);
  }
}

/** Every pipeline of FILE through the core's phases, up to the deadlock proof. */
export function checkOneFile(file: string, pipeline?: string): Compilation {
  return verifyEveryPipeline(compileFile(entryName(file), createNodeHost(), { pipeline, readExternModule, ...readOptionsFor(file) }));
}

/** The command's work without process I/O, for tests. */
export function runCheck(files: readonly string[], options: CheckCommandOptions): { output: string; errorOutput: string; exitCode: number } {
  let exitCode = 0;
  let output = '';
  let errorOutput = '';
  const json: { file: string; ok: boolean; diagnostics: unknown[] }[] = [];
  for (const file of files) {
    const unreadable = unreadableReason(file);
    if (unreadable !== undefined) {
      errorOutput += `pipec: ${file} ${unreadable}\n`;
      exitCode = Math.max(exitCode, 2);
      continue;
    }
    const result = checkOneFile(file, options.pipeline);
    if (result.stop?.kind === 'usage') {
      errorOutput += `pipec: ${result.stop.message}\n`;
      exitCode = Math.max(exitCode, 2);
      continue;
    }
    const { diagnostics } = result;
    const failed = diagnostics.some((d) => d.severity === 'error');
    if (failed) exitCode = Math.max(exitCode, 1);
    if (options.format === 'json') {
      json.push({ file, ok: !failed, diagnostics: toJsonDiagnostics(diagnostics, result.sources) });
      continue;
    }
    output += renderDiagnostics(diagnostics, result.sources, { color: options.color, format: 'text', maxErrors: options.maxErrors });
    const summary = summarizeDiagnostics(diagnostics);
    if (failed) {
      output += `${file}: ${summary}\n`;
    } else if (result.program === undefined) {
      output += `${file}: ok (no pipeline)${summary === undefined ? '' : ` (${summary})`}\n`;
    } else {
      const pipeline = result.program.pipeline;
      output += `${file}: ok: pipeline ${pipeline.name}, ${pipeline.stages.length} stages on ${pipeline.devicesPerReplica} devices, schedule ${pipeline.schedule.name}${summary === undefined ? '' : ` (${summary})`}\n`;
    }
  }
  if (options.format === 'json') output = `${JSON.stringify(json, null, 2)}\n`;
  return { output, errorOutput, exitCode };
}

/** `--torch-csv FILE`: the same verification for an order written by PyTorch (or by hand). */
export function runTorchCsvCheck(file: string, options: CheckCommandOptions): { output: string; errorOutput: string; exitCode: number } {
  const read = readInputFile(file);
  if ('error' in read) return { output: '', errorOutput: read.error, exitCode: 2 };
  const compilation = compileTorchCsv(read.text, file);
  const { diagnostics } = compilation;
  const summary = orderSummary(compilation);
  const failed = summary === undefined;
  if (options.format === 'json') {
    const json = { file, ok: !failed, diagnostics: toJsonDiagnostics(diagnostics, compilation.sources), summary: summary ?? null };
    return { output: `${JSON.stringify(json, null, 2)}\n`, errorOutput: '', exitCode: failed ? 1 : 0 };
  }
  let output = renderDiagnostics(diagnostics, compilation.sources, { color: options.color, format: 'text', maxErrors: options.maxErrors });
  if (summary !== undefined) {
    output +=
      `${file}: ok: ${summary.ranks} ranks, ${summary.stages} stages, ${summary.microbatches} microbatches, ` +
      `${summary.splitBackward ? 'split backward (I/W)' : 'fused backward'}; deadlock-free\n` +
      `  unit costs (F = I = W = 1, B = 2, no communication): makespan ${summary.makespan}, bubble ${(summary.bubble * 100).toFixed(1)}%\n` +
      `  peak live activations per rank: ${summary.peakActivations.join(', ')}\n`;
  } else {
    output += `${file}: ${summarizeDiagnostics(diagnostics) ?? 'failed'}\n`;
  }
  return { output, errorOutput: '', exitCode: failed ? 1 : 0 };
}
