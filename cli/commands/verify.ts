// `pipec verify FILE [--backend B] [--tolerance T] [--workers|--in-process] [--format json]
//   [--dump-grads FILE]`:
// one training step through the pipeline and one through plain
// single-device training of the same model; prints the largest relative
// gradient difference. Exit 1 over the tolerance. --dump-grads writes the
// pipeline's step-0 gradients as safetensors, what the exported PyTorch
// program's `train.py --dump-grads` writes, to compare the two.

import type { Command } from 'commander';
import { encodeSafetensors } from '../../compiler/index.ts';
import { verify } from '../../runtime/index.ts';
import type { BackendName } from '../../runtime/index.ts';
import { setExitCode } from '../exitCode.ts';
import { addFormatOptions, chosenFormat, writeOutput } from '../io.ts';
import { backendOption, chosenBackend, compileForRuntime, reportRuntimeFailure, type ModeFlags } from '../runtime/compileForRuntime.ts';

export interface VerifyCommandOptions extends ModeFlags {
  /** Unset: the runtime's default backend. */
  readonly backend?: BackendName;
  readonly tolerance: string;
  readonly json?: boolean;
  readonly format?: 'text' | 'json';
  readonly pipeline?: string;
  readonly dumpGrads?: string;
}

export function register(program: Command): void {
  const command = program
    .command('verify')
    .description('compare one pipelined step\'s gradients with plain single-device training (exit 1 over tolerance)')
    .argument('<file>', '.pipe file')
    .addOption(backendOption())
    .option('--tolerance <t>', 'largest allowed relative gradient difference', '1e-5')
    .option('--workers', 'run the pipeline on worker threads')
    .option('--in-process', 'run the pipeline in this thread (default)')
    .option('--pipeline <name>', 'the pipeline to verify (default: the first in the file)')
    .option('--dump-grads <file>', "write the pipeline's step-0 gradients there (safetensors, by parameter name)");
  addFormatOptions(command, ['text', 'json'], 'text')
    .action(async (file: string, options: VerifyCommandOptions) => {
      setExitCode(await runVerify(file, { ...options, json: chosenFormat(options, 'text') === 'json' }));
    });
}

export async function runVerify(file: string, options: VerifyCommandOptions): Promise<number> {
  const tolerance = Number(options.tolerance);
  if (!(tolerance >= 0)) {
    process.stderr.write(`pipec verify: --tolerance needs a non-negative number, not '${options.tolerance}'\n`);
    return 2;
  }
  const compiled = compileForRuntime(file, { pipeline: options.pipeline, purpose: 'verify' });
  if (compiled.kind !== 'ok') return compiled.exitCode;
  const { ir } = compiled;
  const backend = await chosenBackend(options.backend, 'verify');
  try {
    const result = await verify(ir, { backend, tolerance, mode: options.workers ? 'workers' : 'in-process', baseDirectory: process.cwd(), externFolders: compiled.externFolders });
    const { gradients, ...summary } = result;
    if (options.dumpGrads) {
      const written = writeOutput(options.dumpGrads, encodeSafetensors(gradients));
      if (written !== 0) return written;
    }
    if (options.json) {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    } else {
      process.stdout.write(`${ir.pipeline} (${ir.schedule}, ${ir.stages.length} stages, ${ir.microbatches} microbatches) vs single-device training on ${backend}:\n`);
      process.stdout.write(`  loss: pipeline ${result.pipelineLoss.toPrecision(8)}, single device ${result.referenceLoss.toPrecision(8)}\n`);
      process.stdout.write(`  largest relative gradient difference: ${result.maxRelativeError.toExponential(2)} (${result.worstParameter}), tolerance ${tolerance.toExponential(0)}\n`);
      process.stdout.write(`  peak live activation slots per device: ${result.peakSlots.join(' ')} (compiler predicted ${result.predictedSlots.join(' ')})\n`);
      process.stdout.write(`  peak activation bytes per device: ${result.peakActivationBytes.join(' ')} (compiler predicted ${result.predictedActivationBytes.join(' ')})\n`);
      process.stdout.write(result.ok ? '  ok: the pipeline computes the same gradients\n' : '  FAILED: the gradients differ beyond the tolerance\n');
    }
    return result.ok ? 0 : 1;
  } catch (error) {
    return reportRuntimeFailure(error, 'verify');
  }
}
