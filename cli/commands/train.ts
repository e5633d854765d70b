// `pipec train FILE [--backend B] [--steps N] [--workers|--in-process]
//   [--checkpoint DIR] [--resume DIR] [--trace out.json] [--json] [--eval-every K]`:
// check and compile the program, then train it by interpreting the
// instruction streams on TensorFlow.js. Exit 0 when training finished, 1 on
// program errors or a runtime failure (PIPE6xxx), 2 on usage problems.

import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import pc from 'picocolors';
import { run, RuntimeFault, type Evaluation, type StepRecord } from '../../runtime/index.ts';
import type { BackendName } from '../../runtime/index.ts';
import { setExitCode } from '../exitCode.ts';
import { addFormatOptions, chosenFormat, folderProblem, outputProblem, writeOutput } from '../io.ts';
import { backendOption, chosenBackend, compileForRuntime, defaultMode, reportRuntimeFailure, type ModeFlags } from '../runtime/compileForRuntime.ts';

export interface TrainCommandOptions extends ModeFlags {
  /** Unset: the runtime's default backend. */
  readonly backend?: BackendName;
  readonly steps?: string;
  readonly checkpoint?: string;
  readonly checkpointEvery?: string;
  readonly resume?: string;
  readonly trace?: string;
  readonly json?: boolean;
  readonly format?: 'text' | 'json';
  readonly evalEvery?: string;
  readonly pipeline?: string;
  readonly timeout?: string;
  readonly opTimeout?: string;
}

function positiveInteger(value: string | undefined, flag: string): number | undefined | Error {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) return new Error(`pipec train: ${flag} needs a positive integer, not '${value}'`);
  return parsed;
}

function positiveNumber(value: string | undefined, flag: string): number | undefined | Error {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) return new Error(`pipec train: ${flag} needs a positive number of seconds, not '${value}'`);
  return parsed;
}

export function register(program: Command): void {
  const command = program
    .command('train')
    .description('train a .pipe program on TensorFlow.js by interpreting its per-device instruction streams')
    .argument('<file>', '.pipe file')
    .addOption(backendOption())
    .option('--steps <n>', 'optimizer steps (default: the pipeline\'s `steps`, else 100)')
    .option('--workers', 'one worker thread per device (default on CPU backends when there is a core per device)')
    .option('--in-process', 'every device in this thread, stepped deterministically (default for webgpu, or with fewer cores than devices)')
    .option('--checkpoint <dir>', 'write a checkpoint there at the end (and every --checkpoint-every steps)')
    .option('--checkpoint-every <n>', 'steps between checkpoints')
    .option('--resume <dir>', 'continue from the checkpoint in this directory')
    .option('--trace <file>', 'write a Chrome/Perfetto trace of what each device did')
    .option('--eval-every <k>', 'evaluate on the held-out set every k steps')
    .option('--pipeline <name>', 'the pipeline to train (default: the first in the file)')
    .option('--timeout <seconds>', 'worker mode: stop when no device makes progress this long', '120')
    .option('--op-timeout <seconds>', 'stop when one instruction computes longer than this; in-process it interrupts even an extern layer stuck in a loop');
  addFormatOptions(command, ['text', 'json'], 'text', 'json: one JSON summary instead of progress and text')
    .action(async (file: string, options: TrainCommandOptions) => {
      setExitCode(await runTrain(file, { ...options, json: chosenFormat(options, 'text') === 'json' }));
    });
}

export async function runTrain(file: string, options: TrainCommandOptions): Promise<number> {
  const steps = positiveInteger(options.steps, '--steps');
  const evalEvery = positiveInteger(options.evalEvery, '--eval-every');
  const checkpointEvery = positiveInteger(options.checkpointEvery, '--checkpoint-every');
  const timeout = positiveInteger(options.timeout, '--timeout');
  const opTimeout = positiveNumber(options.opTimeout, '--op-timeout');
  for (const value of [steps, evalEvery, checkpointEvery, timeout, opTimeout]) {
    if (value instanceof Error) {
      process.stderr.write(`${value.message}\n`);
      return 2;
    }
  }
  if (options.workers && options.inProcess) {
    process.stderr.write('pipec train: choose one of --workers and --in-process\n');
    return 2;
  }
  // Outputs are checked before training, not found unwritable after it.
  const unwritable = outputProblem(options.trace) ?? (options.checkpoint === undefined ? undefined : folderProblem(options.checkpoint));
  if (unwritable !== undefined) {
    process.stderr.write(unwritable);
    return 2;
  }
  const compiled = compileForRuntime(file, { pipeline: options.pipeline, purpose: 'train' });
  if (compiled.kind !== 'ok') return compiled.exitCode;
  const { ir } = compiled;
  const totalSteps = (steps as number | undefined) ?? compiled.steps ?? 100;
  const backend = await chosenBackend(options.backend, 'train');
  const mode = defaultMode(options, backend, ir.devices.length);
  const json = options.json === true;
  const interactive = !json && process.stderr.isTTY === true;
  const bar = interactive
    ? new cliProgress.SingleBar({ format: 'train |{bar}| {value}/{total} steps · loss {loss} · {speed} ex/s', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : undefined;
  const say = (line: string): void => { if (!json) process.stdout.write(`${line}\n`); };
  say(`${pc.bold(`training ${ir.pipeline}`)}: ${ir.model.name}, ${ir.stages.length} stages on ${ir.devices.length} devices, schedule ${ir.schedule}, batch ${ir.batch} (${ir.microbatches} × ${ir.microbatchSize}), ${totalSteps} steps, backend ${backend}, ${mode}`);
  const every = Math.max(1, Math.round(totalSteps / 10));
  let first = true;
  const onStep = (record: StepRecord): void => {
    if (bar) {
      if (first) bar.start(totalSteps, record.step, { loss: '-', speed: '-' });
      bar.update(record.step + 1, { loss: record.loss.toFixed(4), speed: record.examplesPerSecond.toFixed(0) });
    } else if ((record.step + 1) % every === 0 || record.step === 0) {
      say(`step ${String(record.step + 1).padStart(String(totalSteps).length)}/${totalSteps}  loss ${record.loss.toFixed(4)}${Number.isNaN(record.accuracy) ? '' : `  train acc ${(100 * record.accuracy).toFixed(1)}%`}  ${record.examplesPerSecond.toFixed(0)} examples/s`);
    }
    first = false;
  };
  const onEvaluation = (step: number, evaluation: Evaluation): void => {
    if (bar && step < totalSteps) bar.stop();
    say(`eval at step ${step}: loss ${evaluation.loss.toFixed(4)}, accuracy ${(100 * evaluation.accuracy).toFixed(2)}% on ${evaluation.examples} held-out examples`);
    if (bar && step < totalSteps) bar.start(totalSteps, step, { loss: '-', speed: '-' });
  };
  try {
    const result = await run(ir, {
      backend, mode, steps: totalSteps, baseDirectory: process.cwd(), externFolders: compiled.externFolders,
      checkpointDirectory: options.checkpoint, checkpointEvery: checkpointEvery as number | undefined,
      resumeDirectory: options.resume, trace: options.trace !== undefined,
      evalEvery: evalEvery as number | undefined, timeoutMs: ((timeout as number | undefined) ?? 120) * 1000,
      opTimeoutMs: opTimeout === undefined ? undefined : (opTimeout as number) * 1000,
      onStep, onEvaluation: (step, evaluation) => { if (step < totalSteps) onEvaluation(step, evaluation); },
    });
    bar?.stop();
    if (options.trace && result.trace) {
      const written = writeOutput(options.trace, JSON.stringify(result.trace));
      if (written !== 0) return written;
    }
    const last = result.steps[result.steps.length - 1];
    if (json) {
      process.stdout.write(`${JSON.stringify({
        pipeline: ir.pipeline, schedule: ir.schedule, backend, mode,
        startStep: result.startStep, steps: totalSteps, finalLoss: last?.loss ?? null, losses: result.lossHistory,
        examplesPerSecond: result.examplesPerSecond, seconds: result.seconds,
        test: result.final ?? null, evaluations: result.evaluations,
        peakSlots: result.peakSlots, predictedSlots: result.predictedSlots,
        peakActivationBytes: result.peakActivationBytes, predictedActivationBytes: result.predictedActivationBytes, measuredBubble: result.measuredBubble ?? null,
        checkpoint: result.checkpoint ?? null, trace: options.trace ?? null,
      })}\n`);
    } else {
      say(`done: ${result.steps.length} steps in ${result.seconds.toFixed(1)} s, final loss ${last ? last.loss.toFixed(4) : '-'}, ${result.examplesPerSecond.toFixed(0)} examples/s`);
      if (result.final) say(`test: loss ${result.final.loss.toFixed(4)}, ${pc.bold(`accuracy ${(100 * result.final.accuracy).toFixed(2)}%`)} on ${result.final.examples} held-out examples`);
      if (result.checkpoint) say(`checkpoint: ${result.checkpoint}`);
      if (options.trace) say(`trace: ${options.trace} (open in https://ui.perfetto.dev)${result.measuredBubble !== undefined ? `, measured bubble ${(100 * result.measuredBubble).toFixed(1)}%` : ''}`);
    }
    return 0;
  } catch (error) {
    bar?.stop();
    return reportRuntimeFailure(error, 'train');
  }
}

export { RuntimeFault };
