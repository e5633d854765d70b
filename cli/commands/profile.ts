// `pipec profile FILE [--backend B] [-o costs.json] [--repeats N] [--isolated]
// [--mode workers|in-process]`: measure forward (F), backward (B, or I and W)
// of every stage, the transfer cost of every stage boundary and, in situ, the
// send overheads and optimizer steps, and write them as a measured cost
// model for the simulator and the auto-scheduler. In situ (the default) the
// pipeline runs a few traced steps the way it trains; --isolated times each
// stage alone on one engine (any schedule, nothing run).

import { Option, type Command } from 'commander';
import { profile, type ExecutionMode } from '../../runtime/index.ts';
import type { BackendName } from '../../runtime/index.ts';
import { setExitCode } from '../exitCode.ts';
import { outputProblem, writeOutput } from '../io.ts';
import { backendOption, chosenBackend, compileForRuntime, reportRuntimeFailure } from '../runtime/compileForRuntime.ts';

export interface ProfileCommandOptions {
  /** Unset: the runtime's default backend. */
  readonly backend?: BackendName;
  readonly output?: string;
  readonly repeats?: string;
  readonly pipeline?: string;
  readonly isolated?: boolean;
  readonly mode?: ExecutionMode;
}

export function register(program: Command): void {
  program
    .command('profile')
    .description('measure F, I, W per stage and transfer cost per link on a backend; write a costs file')
    .argument('<file>', '.pipe file')
    .addOption(backendOption())
    .option('-o, --output <file>', 'where to write the costs (default: standard output)')
    .option('--repeats <n>', 'isolated: measurements per stage; in situ: traced steps after a warm-up step (medians are kept; default 5 and 3)')
    .option('--isolated', 'time each stage alone on this thread instead of running the pipeline')
    .addOption(new Option('--mode <mode>', 'in situ: how the pipeline runs (default: workers, in-process on webgpu)').choices(['workers', 'in-process']))
    .option('--pipeline <name>', 'the pipeline to profile (default: the first in the file)')
    .action(async (file: string, options: ProfileCommandOptions) => {
      setExitCode(await runProfile(file, options));
    });
}

export async function runProfile(file: string, options: ProfileCommandOptions): Promise<number> {
  const repeats = options.repeats === undefined ? undefined : Number(options.repeats);
  if (repeats !== undefined && (!Number.isInteger(repeats) || repeats < 1)) {
    process.stderr.write(`pipec profile: --repeats needs a positive integer, not '${options.repeats}'\n`);
    return 2;
  }
  const unwritable = outputProblem(options.output);
  if (unwritable !== undefined) {
    process.stderr.write(unwritable);
    return 2;
  }
  const compiled = compileForRuntime(file, { pipeline: options.pipeline, purpose: 'profile' });
  if (compiled.kind !== 'ok') return compiled.exitCode;
  const { ir } = compiled;
  const backend = await chosenBackend(options.backend, 'profile');
  try {
    const result = await profile(ir, { backend, repeats, baseDirectory: process.cwd(), externFolders: compiled.externFolders, isolated: options.isolated, mode: options.mode });
    const document = {
      version: 1,
      ...result.costs,
      units: 'seconds',
      measured: { pipeline: ir.pipeline, backend: result.backend, microbatchSize: result.microbatchSize, repeats: result.repeats, date: new Date().toISOString(), mode: result.mode },
    };
    const text = `${JSON.stringify(document, null, 2)}\n`;
    if (options.output) {
      const written = writeOutput(options.output, text);
      if (written !== 0) return written;
      const ms = (s: number): string => (s * 1000).toFixed(2);
      const costs = result.costs;
      process.stderr.write(costs.stages.map((stage, i) => `stage ${i}: F ${ms(stage.forward)} ms, I ${ms(stage.backwardInput)} ms, W ${ms(stage.backwardWeight)} ms, B ${ms(stage.backward)} ms` +
        (costs.sendActivation[i] > 0 ? `, send → ${ms(costs.sendActivation[i])} ms` : '') + (costs.sendGradient[i] > 0 ? `, send ← ${ms(costs.sendGradient[i])} ms` : '')).join('\n') +
        `\n(${result.mode === 'isolated' ? 'isolated' : `in situ, ${result.mode}`}) wrote ${options.output}\n`);
    } else {
      process.stdout.write(text);
    }
    return 0;
  } catch (error) {
    return reportRuntimeFailure(error, 'profile');
  }
}
