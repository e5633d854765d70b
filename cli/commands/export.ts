// `pipec export FILE --torch-csv OUT [--comms] [--pipeline NAME]`: the
// program's compute order in PyTorch's schedule CSV (one row per rank;
// `--comms` adds SEND/RECV cells, PyTorch's compute_comms format). The order
// is compiled first, so only validated, deadlock-free orders are exported.

import type { Command } from 'commander';
import { Option } from 'commander';
import { exportTorchCsv } from '../../compiler/torch/csv.ts';
import { setExitCode } from '../main.ts';
import { compileFile, writeOutput, type CompileFlags } from '../commandSupport.ts';

export interface ExportCommandOptions extends CompileFlags {
  readonly torchCsv: string;
  readonly comms: boolean;
}

export function register(program: Command): void {
  program
    .command('export')
    .description("export a program's schedule as PyTorch's pipeline schedule CSV")
    .argument('<file>', '.pipe file')
    .requiredOption('--torch-csv <out>', "the CSV to write ('-' for standard output)")
    .option('--comms', "add SEND_F/RECV_F/SEND_B/RECV_B cells (PyTorch's compute_comms format)", false)
    .option('--pipeline <name>', 'the pipeline to export (default: the first in the file)')
    .addOption(new Option('--format <format>', 'diagnostics format').choices(['text', 'json']).default('text'))
    .option('--costs <file>', 'measured costs (from pipec profile) for rule-based and auto schedules')
    .option('--unit', 'unit costs (F=I=W=1, B=2) for rule-based and auto schedules, as pipec schedule uses', false)
    .option('--no-color', 'plain output without ANSI colours')
    .action((file: string, options: ExportCommandOptions) => {
      const color = options.color && process.stderr.isTTY === true && !process.env.NO_COLOR;
      const result = runExport(file, { ...options, color });
      if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
      setExitCode(result.exitCode);
      if (result.csv !== undefined) setExitCode(writeOutput(options.torchCsv, result.csv));
    });
}

export function runExport(file: string, options: Omit<ExportCommandOptions, 'torchCsv'>): { csv?: string; errorOutput: string; exitCode: number } {
  const result = compileFile(file, 'export', options);
  if (result.kind === 'failed') return { errorOutput: result.errorOutput, exitCode: result.exitCode };
  return { csv: exportTorchCsv(result.schedule, { comms: options.comms }), errorOutput: result.warnings, exitCode: 0 };
}
