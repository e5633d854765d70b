// `pipec export FILE --torch-csv OUT [--comms] [--pipeline NAME]`: the
// program's compute order in PyTorch's schedule CSV (one row per rank;
// `--comms` adds SEND/RECV cells, PyTorch's compute_comms format, each
// receive posted where its data is produced under the program's costs and
// link latency: docs/torch-comms.md). The order is compiled first, so only
// validated, deadlock-free orders are exported.
//
// `pipec export FILE --torch DIR`: the whole program as a runnable PyTorch
// program (train.py, model.py, the schedule CSV, pipec's initial weights and
// training data; DIR/README.md says how to launch it with torchrun).

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { encodeSafetensors, exportTorchCsv, torchExportRefusal, torchProcesses, torchProgramFiles } from '../../compiler/index.ts';
import { torchExport } from '../../runtime/index.ts';
import { compileForCommand } from '../compileForCommand.ts';
import { setExitCode } from '../exitCode.ts';
import { addCompileOptions, chosenFormat, useColor, writeOutput, type CompileFlags } from '../io.ts';
import { reportRuntimeFailure } from '../runtime/compileForRuntime.ts';
import { renderDiagnostics } from '../render.ts';

export interface ExportCommandOptions extends CompileFlags {
  readonly torchCsv?: string;
  readonly torch?: string;
  readonly comms: boolean;
}

/** What `pipec train` runs when the pipeline states no `steps`. */
const DEFAULT_STEPS = 100;

export function register(program: Command): void {
  addCompileOptions(program
    .command('export')
    .description("export a program's schedule as PyTorch's pipeline schedule CSV, or the whole program as a PyTorch program")
    .argument('<file>', '.pipe file')
    .option('--torch-csv <out>', "the CSV to write ('-' for standard output)")
    .option('--torch <dir>', 'write a runnable torch.distributed.pipelining program there (train.py; see its README.md)')
    .option('--comms', "add SEND_F/RECV_F/SEND_B/RECV_B cells (PyTorch's compute_comms format), each receive placed by the program's link times", false))
    .action(async (file: string, options: ExportCommandOptions) => {
      if ((options.torchCsv === undefined) === (options.torch === undefined)) {
        process.stderr.write('pipec export: give one of --torch-csv OUT and --torch DIR\n');
        setExitCode(2);
        return;
      }
      const rendering = { ...options, format: chosenFormat(options, 'text'), color: useColor(options.color) };
      if (options.torch !== undefined) {
        setExitCode(await runTorchExport(file, options.torch, rendering));
        return;
      }
      const result = runExport(file, rendering);
      if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
      setExitCode(result.exitCode);
      if (result.csv !== undefined) setExitCode(writeOutput(options.torchCsv, result.csv));
    });
}

export function runExport(file: string, options: Omit<ExportCommandOptions, 'torchCsv'>): { csv?: string; errorOutput: string; exitCode: number } {
  const result = compileForCommand(file, 'export', options);
  if (!result.ok) return { errorOutput: result.errorOutput, exitCode: result.exitCode };
  const refusal = torchExportRefusal(result.compilation.program!, 'csv');
  if (refusal !== undefined) {
    return { errorOutput: result.warnings + renderDiagnostics([refusal], result.compilation.sources, { color: options.color ?? false, format: options.format ?? 'text' }), exitCode: 1 };
  }
  return { csv: exportTorchCsv(result.compilation.schedule!, { comms: options.comms, costs: result.compilation.costs }), errorOutput: result.warnings, exitCode: 0 };
}

export async function runTorchExport(file: string, directory: string, options: Omit<ExportCommandOptions, 'torchCsv' | 'torch'>): Promise<number> {
  const result = compileForCommand(file, 'export', options);
  if (!result.ok) {
    process.stderr.write(result.errorOutput);
    return result.exitCode;
  }
  if (result.warnings !== '') process.stderr.write(result.warnings);
  const refusal = torchExportRefusal(result.compilation.program!, 'program');
  if (refusal !== undefined) {
    process.stderr.write(renderDiagnostics([refusal], result.compilation.sources, { color: options.color ?? false, format: options.format ?? 'text' }));
    return 1;
  }
  const ir = result.compilation.ir!;
  let tensors;
  try {
    tensors = await torchExport(ir, { baseDirectory: process.cwd() });
  } catch (error) {
    return reportRuntimeFailure(error, 'export');
  }
  const files = torchProgramFiles(ir, result.compilation.schedule!, {
    steps: result.compilation.program!.pipeline.steps ?? DEFAULT_STEPS,
    sourceFile: file,
    externParameters: tensors.externParameters,
  });
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    process.stderr.write(`pipec export: cannot make ${directory}: ${(error as Error).message}\n`);
    return 2;
  }
  const outputs: [string, string | Uint8Array][] = [
    ...files,
    ['weights.safetensors', encodeSafetensors(tensors.weights)],
    ['data.safetensors', encodeSafetensors(tensors.data)],
  ];
  for (const [name, content] of outputs) {
    const code = writeOutput(path.join(directory, name), content);
    if (code !== 0) return code;
  }
  process.stdout.write(`wrote ${outputs.map(([name]) => name).join(', ')} to ${directory}; run it with: (cd ${directory} && torchrun --nproc-per-node ${torchProcesses(ir)} train.py)\n`);
  return 0;
}
