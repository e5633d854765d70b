// `pipec check FILE... [--format text|json] [--pipeline NAME] [--no-color]`
// and `pipec check --torch-csv ORDER.csv` (a PyTorch schedule CSV: imported,
// validated, proven deadlock-free and timed under unit costs):
// diagnostics only. Everything the compiler can prove statically is checked:
// names, types and shapes, placement, and then — for a well-typed program —
// the schedule (every action once, dependencies, no deadlock) and each
// device's peak memory, by compiling without writing the IR.
// Exit 0 when clean (warnings allowed), 1 when any file has errors, 2 for
// usage problems such as a missing file.

import type { Command } from 'commander';
import { Option } from 'commander';
import { setExitCode } from '../main.ts';
import { readFileSync } from 'node:fs';
import { checkTorchCsvFile } from '../../compiler/torch/check.ts';
import { checkFile } from '../loadProgram.ts';
import { renderDiagnostics, summarizeDiagnostics, toJsonDiagnostics } from '../render.ts';

export interface CheckCommandOptions {
  readonly format: 'text' | 'json';
  readonly pipeline?: string;
  readonly color: boolean;
  readonly torchCsv?: string;
}

export function register(program: Command): void {
  program
    .command('check')
    .description('type-check .pipe programs and report diagnostics (exit 0 clean, 1 errors, 2 usage)')
    .argument('[files...]', '.pipe files to check')
    .option('--torch-csv <file>', 'check a PyTorch pipeline schedule CSV instead (one row per rank, cells like 0F3, 1I2, 1W2)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--pipeline <name>', 'the pipeline to check in depth (default: the first in the file)')
    .option('--no-color', 'plain output without ANSI colours')
    .action((files: string[], options: CheckCommandOptions) => {
      const color = options.color && process.stdout.isTTY === true && !process.env.NO_COLOR;
      if (files.length === 0 && options.torchCsv === undefined) {
        process.stderr.write('pipec check: name at least one .pipe file, or --torch-csv FILE\n');
        setExitCode(2);
        return;
      }
      const csv = options.torchCsv === undefined ? undefined : runTorchCsvCheck(options.torchCsv, { ...options, color });
      const { output, errorOutput, exitCode } = files.length > 0 ? runCheck(files, { ...options, color }) : { output: '', errorOutput: '', exitCode: 0 };
      if (csv) {
        process.stdout.write(csv.output);
        process.stderr.write(csv.errorOutput);
        setExitCode(csv.exitCode);
      }
      if (output !== '') process.stdout.write(output);
      if (errorOutput !== '') process.stderr.write(errorOutput);
      setExitCode(exitCode);
    });
}

/** The command's work without process I/O, for tests and for other commands. */
export function runCheck(files: readonly string[], options: CheckCommandOptions): { output: string; errorOutput: string; exitCode: number } {
  let exitCode = 0;
  let output = '';
  let errorOutput = '';
  const json: { file: string; ok: boolean; diagnostics: unknown[] }[] = [];
  for (const file of files) {
    const result = checkFile(file, { pipeline: options.pipeline });
    if (result.kind === 'missing') {
      errorOutput += `${result.message}\n`;
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
    output += renderDiagnostics(diagnostics, result.sources, { color: options.color, format: 'text' });
    const summary = summarizeDiagnostics(diagnostics);
    if (!failed && result.program === undefined && diagnostics.length === 0) {
      output += `${file}: ok (no pipeline)\n`;
    } else if (!failed) {
      const pipeline = result.program?.pipeline;
      const detail = pipeline === undefined ? '' : `: pipeline ${pipeline.name}, ${pipeline.stages.length} stages on ${pipeline.devicesPerReplica} devices, schedule ${pipeline.schedule.name}`;
      output += `${file}: ok${detail}${summary === undefined ? '' : ` (${summary})`}\n`;
    } else {
      output += `${file}: ${summary}\n`;
    }
  }
  if (options.format === 'json') output = `${JSON.stringify(json, null, 2)}\n`;
  return { output, errorOutput, exitCode };
}

/** `--torch-csv FILE`: the same verification for an order written by PyTorch (or by hand). */
export function runTorchCsvCheck(file: string, options: CheckCommandOptions): { output: string; errorOutput: string; exitCode: number } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { output: '', errorOutput: `pipec: ${file} does not exist or is not readable\n`, exitCode: 2 };
  }
  const { diagnostics, summary } = checkTorchCsvFile(text, file);
  const failed = diagnostics.some((d) => d.severity === 'error');
  const sources = new Map([[file, text]]);
  if (options.format === 'json') {
    const json = { file, ok: !failed, diagnostics: toJsonDiagnostics(diagnostics, sources), summary: summary ?? null };
    return { output: `${JSON.stringify(json, null, 2)}\n`, errorOutput: '', exitCode: failed ? 1 : 0 };
  }
  let output = renderDiagnostics(diagnostics, sources, { color: options.color, format: 'text' });
  if (summary && !failed) {
    const peaks = summary.peakActivations.join(', ');
    output +=
      `${file}: ok: ${summary.ranks} ranks, ${summary.stages} stages, ${summary.microbatches} microbatches, ` +
      `${summary.splitBackward ? 'split backward (I/W)' : 'fused backward'}; deadlock-free\n` +
      `  unit costs (F = I = W = 1, B = 2, no communication): makespan ${summary.makespan}, bubble ${(summary.bubble * 100).toFixed(1)}%\n` +
      `  peak live activations per rank: ${peaks}\n`;
  } else {
    output += `${file}: ${summarizeDiagnostics(diagnostics) ?? 'failed'}\n`;
  }
  return { output, errorOutput: '', exitCode: failed ? 1 : 0 };
}
