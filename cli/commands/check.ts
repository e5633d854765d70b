// `pipec check FILE... [--format text|json] [--pipeline NAME] [--no-color]`:
// diagnostics only. Everything the compiler can prove statically is checked:
// names, types and shapes, placement, and then — for a well-typed program —
// the schedule (every action once, dependencies, no deadlock) and each
// device's peak memory, by compiling without writing the IR.
// Exit 0 when clean (warnings allowed), 1 when any file has errors, 2 for
// usage problems such as a missing file.

import type { Command } from 'commander';
import { Option } from 'commander';
import type { Diagnostic } from '../../grammar/diagnostic.ts';
import { setExitCode } from '../main.ts';
import { checkFile } from '../loadProgram.ts';
import { renderDiagnostics, summarizeDiagnostics, toJsonDiagnostics } from '../render.ts';

export interface CheckCommandOptions {
  readonly format: 'text' | 'json';
  readonly pipeline?: string;
  readonly color: boolean;
}

export function register(program: Command): void {
  program
    .command('check')
    .description('type-check .pipe programs and report diagnostics (exit 0 clean, 1 errors, 2 usage)')
    .argument('<files...>', '.pipe files to check')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--pipeline <name>', 'the pipeline to check in depth (default: the first in the file)')
    .option('--no-color', 'plain output without ANSI colours')
    .action((files: string[], options: CheckCommandOptions) => {
      const color = options.color && process.stdout.isTTY === true && !process.env.NO_COLOR;
      const { output, errorOutput, exitCode } = runCheck(files, { ...options, color });
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
