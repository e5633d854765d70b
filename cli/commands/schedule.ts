// `pipec schedule NAME -p P -m M [-v V] [--format text|json|torch-csv|ir] [--comms] [-o OUT]`:
// a built-in schedule for a bare pipeline of P devices — no .pipe file. The
// core's bare compilation validates, lowers and proves the order free of
// deadlock before anything is printed, so what comes out is safe to run
// (e.g. a ZB-V CSV for PyTorch). The text and JSON report the makespan and
// bubble under the costs asked for (--cost), the same figures `pipec
// simulate --schedule` gives.

import type { Command } from 'commander';
import {
  builtinScheduleNames, compileBareSchedule, describeCopies, exportTorchCsv, memoryPlanLines, scheduleCells, TWO_COPIES_CSV_REASON, VOCAB_PARALLEL_CSV_REASON, ordersAsData, peakLiveActivations, simulateCompilation,
  EXACT_MAX_ACTIONS, normaliseScheduleName, type ComputeSchedule, type ExactVerdict, type SimulatedCompilation,
} from '../../compiler/index.ts';
import { setExitCode } from '../exitCode.ts';
import { addFormatOptions, chosenFormat, nonNegativeNumber, positiveInteger, positiveNumber, writeOutput } from '../io.ts';

export { defaultStagesPerDevice } from '../../compiler/index.ts';

export interface ScheduleCommandOptions {
  readonly devices: number;
  readonly microbatches: number;
  /** Default: the schedule's own (2 for the V-shaped and interleaved families). */
  readonly stagesPerDevice?: number;
  readonly format: 'text' | 'json' | 'torch-csv' | 'ir';
  readonly json?: boolean;
  readonly comms: boolean;
  readonly output?: string;
  /** `auto` only: activation units per device (default 2 × stages per device × P). */
  readonly memory?: number;
  /** Uniform costs, e.g. F=1,I=1,W=1,C=0.5 (default unit costs). */
  readonly cost?: string;
  /** `auto` only: let the search recompute / offload microbatches, with these sizes. */
  readonly recompute?: boolean;
  readonly offload?: boolean;
  readonly checkpoint?: number;
  readonly copyTime?: number;
  /** `auto` only: prove the optimum by branch and bound; the report says proven or the gap to the lower bound. */
  readonly exact?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('schedule')
    .description(`print a built-in schedule for a bare pipeline (no .pipe file): ${builtinScheduleNames().join(', ')}, auto`)
    .argument('<name>', 'schedule name (zb-v and zb_v alike)')
    .requiredOption('-p, --devices <P>', 'pipeline devices (ranks)', positiveInteger('-p'))
    .requiredOption('-m, --microbatches <M>', 'microbatches', positiveInteger('-m'))
    .option('-v, --stages-per-device <V>', "stages (chunks) per device (default: the schedule's own, 2 for the V-shaped and interleaved ones)", positiveInteger('-v'))
    .option('--comms', "with --format torch-csv: add SEND/RECV cells (PyTorch's compute_comms format), each receive placed by the link time of --cost C=", false)
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .option('--no-color', 'plain output without ANSI colours')
    .option('--memory <K>', 'auto: activation units per device (default 2P)', positiveNumber('--memory'))
    .option('--cost <spec>', 'uniform costs for the timing (and for auto), e.g. F=1,I=1,W=1,C=0.5 (default unit costs)')
    .option('--recompute', 'auto: the search may recompute microbatches (R) to fit --memory')
    .option('--offload', 'auto: the search may offload microbatches to host memory (O, L) to fit --memory')
    .option('--checkpoint <K>', 'auto with --recompute: activation units a recomputed microbatch keeps (its stage input; default a quarter of a stash)', nonNegativeNumber('--checkpoint'))
    .option('--copy-time <T>', "auto with --offload: time to offload or reload one stage's stash on the copy stream (default one forward's time; 0 = free)", nonNegativeNumber('--copy-time'))
    .option('--exact', 'auto: prove the optimum by branch and bound after the heuristic (small pipelines, e.g. -p 4 -m 8); says proven or the gap to the lower bound', false);
  addFormatOptions(command, ['text', 'json', 'torch-csv', 'ir'], 'text')
    .action((name: string, options: ScheduleCommandOptions) => {
      const result = runSchedule(name, { ...options, format: chosenFormat(options, 'text') });
      if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
      setExitCode(result.exitCode);
      if (result.output !== undefined) setExitCode(writeOutput(options.output, result.output));
    });
}

/** The command's work without process I/O, for tests and the benchmark. */
export function runSchedule(name: string, options: ScheduleCommandOptions): { output?: string; errorOutput: string; exitCode: number; schedule?: ComputeSchedule } {
  if (options.exact && normaliseScheduleName(name) !== 'auto') return { errorOutput: `pipec: --exact is for schedule auto, not ${name}\n`, exitCode: 2 };
  const compilation = compileBareSchedule(
    {
      name, devices: options.devices, microbatches: options.microbatches, stagesPerDevice: options.stagesPerDevice, memory: options.memory,
      recompute: options.recompute, offload: options.offload, checkpoint: options.checkpoint, copyTime: options.copyTime, exact: options.exact,
    },
    options.cost === undefined ? {} : { costs: { kind: 'uniform', spec: options.cost } },
  );
  if (compilation.stop !== undefined) return { errorOutput: `pipec: ${compilation.stop.message}\n`, exitCode: 2 };
  const schedule = compilation.schedule!;
  let output: string;
  switch (options.format) {
    case 'torch-csv':
      if ((schedule.copies ?? 1) > 1) return { errorOutput: `pipec: ${name} cannot be written as a PyTorch schedule CSV: ${TWO_COPIES_CSV_REASON}\n`, exitCode: 1 };
      if ((schedule.vocabShards ?? 0) > 0) return { errorOutput: `pipec: ${name} cannot be written as a PyTorch schedule CSV: ${VOCAB_PARALLEL_CSV_REASON}\n`, exitCode: 1 };
      output = exportTorchCsv(schedule, { comms: options.comms, costs: compilation.costs });
      break;
    case 'ir':
      output = `${JSON.stringify(compilation.ir)}\n`;
      break;
    case 'json':
      output = `${JSON.stringify(scheduleJson(simulateCompilation(compilation, { detail: false })!))}\n`;
      break;
    case 'text':
      output = scheduleText(simulateCompilation(compilation, { detail: false })!);
      break;
  }
  return { output, errorOutput: '', exitCode: 0, schedule };
}

function timing(simulated: SimulatedCompilation) {
  return { makespan: simulated.result.makespan, bubble: simulated.result.bubble, peakActivations: peakLiveActivations(simulated.schedule) };
}

/** The order as plain data: one array of actions per device, and its timing under the costs asked for. */
export function scheduleJson(simulated: SimulatedCompilation) {
  const { schedule } = simulated;
  const timed = timing(simulated);
  return {
    name: schedule.name,
    devices: schedule.devices,
    stages: schedule.stages,
    microbatches: schedule.microbatches,
    stageDevice: schedule.stageDevice,
    splitBackward: schedule.splitBackward,
    costs: simulated.compilation.costLabel,
    timing: timed,
    ...(simulated.compilation.memoryPlan ? { memoryPlan: simulated.compilation.memoryPlan } : {}),
    ...(simulated.compilation.exact ? { exact: simulated.compilation.exact } : {}),
    ...(simulated.costs.kind === 'unit' ? { unitCosts: timed } : {}),
    orders: ordersAsData(schedule),
  };
}

/** One row per device, cells in PyTorch's notation, and the summary under the costs asked for. */
export function scheduleText(simulated: SimulatedCompilation): string {
  const { schedule } = simulated;
  const timed = timing(simulated);
  const rows = scheduleCells(schedule);
  const width = String(schedule.devices - 1).length;
  const lines = rows.map((row, device) => `device ${String(device).padStart(width)}: ${row.join(' ')}`);
  const costs = simulated.costs.kind === 'unit' ? 'unit costs (F=I=W=1, B=2)' : simulated.compilation.costLabel;
  lines.push(
    `${schedule.name}: ${schedule.devices} devices, ${describeCopies(schedule)}; ` +
      `${costs}: makespan ${Number(timed.makespan.toFixed(6))}, bubble ${(timed.bubble * 100).toFixed(1)}%, ` +
      `peak activations per device ${timed.peakActivations.join(' ')}`,
  );
  const plan = simulated.compilation.memoryPlan;
  // The search's own timing (compute in order, copies on the copy stream), with and without memory actions under the same limit.
  if (plan !== undefined) lines.push(...memoryPlanLines(plan, (value) => String(Number(value.toFixed(6))), (value) => String(Number(value.toFixed(6)))));
  const exact = simulated.compilation.exact;
  if (exact !== undefined) lines.push(describeExactVerdict(exact, timed.makespan));
  return `${lines.join('\n')}\n`;
}

/** The exact search's verdict in one line: a proven optimum, or the best found and its gap to the lower bound. */
function describeExactVerdict(exact: ExactVerdict, makespan: number): string {
  const number = (value: number) => String(Number(value.toFixed(6)));
  const heuristic = exact.heuristicMakespan > makespan + 1e-9 ? `the heuristic alone reached ${number(exact.heuristicMakespan)}` : 'the heuristic reached it';
  if (exact.proven) return `exact: makespan ${number(makespan)} is the proven optimum (${heuristic}; ${exact.nodes} search nodes, ${exact.ms} ms)`;
  const gap = makespan - exact.lowerBound;
  if (exact.tooLarge) {
    return `exact: too many compute actions for the exact search (at most ${EXACT_MAX_ACTIONS}); the heuristic's makespan ${number(makespan)} is at most ` +
      `${number(gap)} (${((gap / exact.lowerBound) * 100).toFixed(1)}%) above the lower bound ${number(exact.lowerBound)}`;
  }
  return `exact: not proven within ${exact.nodes} search nodes: makespan ${number(makespan)}, lower bound ${number(exact.lowerBound)}, ` +
    `so at most ${number(gap)} (${((gap / exact.lowerBound) * 100).toFixed(1)}%) above the optimum`;
}
