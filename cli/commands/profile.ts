// `pipec profile FILE [--backend B] [-o costs.json] [--repeats N]`: measure
// forward (F), backward-input (I) and backward-weight (W) of every stage on
// one microbatch, and the transfer cost of every stage boundary, and write
// them as a measured cost model for the simulator and the auto-scheduler.

import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { profile } from '../../runtime/index.ts';
import { BACKEND_NAMES, type BackendName } from '../../runtime/backends.ts';
import { setExitCode } from '../main.ts';
import { compileForRuntime, reportRuntimeFailure } from '../runtime/compileForRuntime.ts';

export interface ProfileCommandOptions {
  readonly backend: BackendName;
  readonly output?: string;
  readonly repeats: string;
  readonly pipeline?: string;
}

export function register(program: Command): void {
  program
    .command('profile')
    .description('measure F, I, W per stage and transfer cost per link on a backend; write a costs file')
    .argument('<file>', '.pipe file')
    .addOption(new Option('--backend <backend>', 'TensorFlow.js backend').choices([...BACKEND_NAMES]).default('cpu'))
    .option('-o, --output <file>', 'where to write the costs (default: standard output)')
    .option('--repeats <n>', 'measurements per stage (the median is kept)', '5')
    .option('--pipeline <name>', 'the pipeline to profile (default: the first in the file)')
    .action(async (file: string, options: ProfileCommandOptions) => {
      setExitCode(await runProfile(file, options));
    });
}

export async function runProfile(file: string, options: ProfileCommandOptions): Promise<number> {
  const repeats = Number(options.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) {
    process.stderr.write(`pipec profile: --repeats needs a positive integer, not '${options.repeats}'\n`);
    return 2;
  }
  const compiled = compileForRuntime(file, { pipeline: options.pipeline });
  if (compiled.kind !== 'ok') return compiled.exitCode;
  const { ir } = compiled;
  try {
    const result = await profile(ir, { backend: options.backend, repeats, baseDirectory: process.cwd() });
    const document = {
      version: 1,
      ...result.costs,
      units: 'seconds',
      measured: { pipeline: ir.pipeline, backend: result.backend, microbatchSize: result.microbatchSize, repeats: result.repeats, date: new Date().toISOString() },
    };
    const text = `${JSON.stringify(document, null, 2)}\n`;
    if (options.output) {
      writeFileSync(options.output, text);
      const ms = (s: number): string => (s * 1000).toFixed(2);
      process.stderr.write(result.costs.stages.map((stage, i) => `stage ${i}: F ${ms(stage.forward)} ms, I ${ms(stage.backwardInput)} ms, W ${ms(stage.backwardWeight)} ms`).join('\n') + `\nwrote ${options.output}\n`);
    } else {
      process.stdout.write(text);
    }
    return 0;
  } catch (error) {
    return reportRuntimeFailure(error, 'profile');
  }
}
