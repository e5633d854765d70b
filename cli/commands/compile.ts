// `pipec compile FILE [-o out.ir.json] [--pipeline NAME]`: check, evaluate the
// schedule, validate, lower to per-device instruction streams, check memory
// and prove the streams free of deadlock; write the versioned IR (JSON).
// Exit 0 with an IR, 1 on errors, 2 on usage problems.

import type { Command } from 'commander';
import { Option } from 'commander';
import type { IrProgram } from '../../compiler/ir/types.ts';
import { setExitCode } from '../main.ts';
import { compileFile, writeOutput, type CompileFlags } from '../commandSupport.ts';

export interface CompileCommandOptions extends CompileFlags {
  readonly output?: string;
}

export function register(program: Command): void {
  program
    .command('compile')
    .description('compile a .pipe program to per-device instruction streams (versioned JSON IR)')
    .argument('<file>', '.pipe file')
    .option('-o, --output <file>', 'where to write the IR (default: standard output)')
    .option('--pipeline <name>', 'the pipeline to compile (default: the first in the file)')
    .addOption(new Option('--format <format>', 'diagnostics format').choices(['text', 'json']).default('text'))
    .option('--costs <file>', 'measured costs (from pipec profile) for rule-based and auto schedules')
    .option('--unit', 'unit costs (F=I=W=1, B=2) for rule-based and auto schedules, as pipec schedule uses', false)
    .option('--no-color', 'plain output without ANSI colours')
    .action((file: string, options: CompileCommandOptions) => {
      const color = options.color && process.stderr.isTTY === true && !process.env.NO_COLOR;
      const result = runCompile(file, { ...options, color });
      if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
      setExitCode(result.exitCode);
      if (result.ir) setExitCode(writeOutput(options.output, `${JSON.stringify(result.ir)}\n`));
    });
}

/** The command's work without process I/O. */
export function runCompile(file: string, options: Omit<CompileCommandOptions, 'output'>): { ir?: IrProgram; errorOutput: string; exitCode: number } {
  const result = compileFile(file, 'compile', options);
  if (result.kind === 'failed') return { errorOutput: result.errorOutput, exitCode: result.exitCode };
  return { ir: result.ir, errorOutput: result.warnings, exitCode: 0 };
}
