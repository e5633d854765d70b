// `pipec export FILE --torch-csv OUT [--comms] [--pipeline NAME]`: the
// program's compute order in PyTorch's schedule CSV (one row per rank;
// `--comms` adds SEND/RECV cells, PyTorch's compute_comms format, each
// receive posted where its data is produced under the program's costs and
// link latency: docs/torch-comms.md). The order is compiled first, so only
// validated, deadlock-free orders are exported.

import type { Command } from 'commander';
import { exportTorchCsv } from '../../compiler/index.ts';
import { compileForCommand } from '../compileForCommand.ts';
import { setExitCode } from '../exitCode.ts';
import { addCompileOptions, chosenFormat, useColor, writeOutput, type CompileFlags } from '../io.ts';

export interface ExportCommandOptions extends CompileFlags {
  readonly torchCsv: string;
  readonly comms: boolean;
}

export function register(program: Command): void {
  addCompileOptions(program
    .command('export')
    .description("export a program's schedule as PyTorch's pipeline schedule CSV")
    .argument('<file>', '.pipe file')
    .requiredOption('--torch-csv <out>', "the CSV to write ('-' for standard output)")
    .option('--comms', "add SEND_F/RECV_F/SEND_B/RECV_B cells (PyTorch's compute_comms format), each receive placed by the program's link times", false))
    .action((file: string, options: ExportCommandOptions) => {
      const result = runExport(file, { ...options, format: chosenFormat(options, 'text'), color: useColor(options.color) });
      if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
      setExitCode(result.exitCode);
      if (result.csv !== undefined) setExitCode(writeOutput(options.torchCsv, result.csv));
    });
}

export function runExport(file: string, options: Omit<ExportCommandOptions, 'torchCsv'>): { csv?: string; errorOutput: string; exitCode: number } {
  const result = compileForCommand(file, 'export', options);
  if (!result.ok) return { errorOutput: result.errorOutput, exitCode: result.exitCode };
  return { csv: exportTorchCsv(result.compilation.schedule!, { comms: options.comms, costs: result.compilation.costs }), errorOutput: result.warnings, exitCode: 0 };
}
