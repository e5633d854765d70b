// `pipec compile FILE [-o out.ir.json] [--pipeline NAME]`: the core's whole
// compilation (check, schedule, validate, lower to per-device instruction
// streams, memory, deadlock proof); writes the versioned IR (JSON).
// Exit 0 with an IR, 1 on errors, 2 on usage problems.

import type { Command } from 'commander';
import type { IrProgram } from '../../compiler/index.ts';
import { compileForCommand } from '../compileForCommand.ts';
import { setExitCode } from '../exitCode.ts';
import { addCompileOptions, chosenFormat, useColor, writeOutput, type CompileFlags } from '../io.ts';

export interface CompileCommandOptions extends CompileFlags {
  readonly output?: string;
}

export function register(program: Command): void {
  addCompileOptions(program
    .command('compile')
    .description('compile a .pipe program to per-device instruction streams (versioned JSON IR)')
    .argument('<file>', '.pipe file')
    .option('-o, --output <file>', 'where to write the IR (default: standard output)'))
    .action((file: string, options: CompileCommandOptions) => {
      const result = runCompile(file, { ...options, format: chosenFormat(options, 'text'), color: useColor(options.color) });
      if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
      setExitCode(result.exitCode);
      if (result.ir) setExitCode(writeOutput(options.output, `${JSON.stringify(result.ir)}\n`));
    });
}

/** The command's work without process I/O. */
export function runCompile(file: string, options: Omit<CompileCommandOptions, 'output'>): { ir?: IrProgram; errorOutput: string; exitCode: number } {
  const result = compileForCommand(file, 'compile', options);
  if (!result.ok) return { errorOutput: result.errorOutput, exitCode: result.exitCode };
  return { ir: result.compilation.ir, errorOutput: result.warnings, exitCode: 0 };
}
