// `pipec schedule NAME -p P -m M [-v V] [--format text|json|torch-csv|ir] [--comms] [-o OUT]`:
// a built-in schedule for a bare pipeline of P devices — no .pipe file. The
// order is validated, lowered and proven free of deadlock before it is
// printed, so what comes out is safe to run (e.g. a ZB-V CSV for PyTorch).

import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import { spanOf } from '../../grammar/source.ts';
import { bareScheduleIr } from '../../compiler/lower/bare.ts';
import { lowerToInstructionStreams, unitStageInfo } from '../../compiler/lower/lower.ts';
import { builtinSchedule } from '../../compiler/schedule/builtin.ts';
import { describeDeadlock, proveDeadlockFree } from '../../compiler/schedule/deadlock.ts';
import { peakLiveActivations } from '../../compiler/schedule/memory.ts';
import type { ComputeSchedule } from '../../compiler/schedule/types.ts';
import { timeSchedule } from '../../compiler/schedule/unitTiming.ts';
import { problemsToDiagnostics, validateSchedule } from '../../compiler/schedule/validate.ts';
import { STANDARD_SCHEDULES, standardLibrary } from '../../compiler/stdlib/index.ts';
import { exportTorchCsv } from '../../compiler/torch/csv.ts';
import { setExitCode } from '../main.ts';
import { positiveInteger, writeOutput } from '../commandSupport.ts';
import { renderDiagnostics } from '../render.ts';
import { bareAutoSchedule } from '../../compiler/autoschedule/bare.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export interface ScheduleCommandOptions {
  readonly devices: number;
  readonly microbatches: number;
  readonly stagesPerDevice: number;
  readonly format: 'text' | 'json' | 'torch-csv' | 'ir';
  readonly comms: boolean;
  readonly output?: string;
  readonly color?: boolean;
  /** `auto` only: activation units per device (default 2 × stages per device × P). */
  readonly memory?: number;
  /** `auto` only: uniform costs, e.g. F=1,I=1,W=1,C=0.5 (default unit costs). */
  readonly cost?: string;
}

export function register(program: Command): void {
  program
    .command('schedule')
    .description('print a built-in schedule for a bare pipeline (no .pipe file): gpipe, 1f1b, interleaved-1f1b, looped-bfs, zb-h1, zb-h2, zb-v, v-half, v-min, dualpipe-v')
    .argument('<name>', 'schedule name (zb-v and zb_v alike)')
    .requiredOption('-p, --devices <P>', 'pipeline devices (ranks)', positiveInteger('-p'))
    .requiredOption('-m, --microbatches <M>', 'microbatches', positiveInteger('-m'))
    .option('-v, --stages-per-device <V>', 'stages (chunks) per device; 2 for the V-shaped schedules', positiveInteger('-v'))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json', 'torch-csv', 'ir']).default('text'))
    .option('--comms', "with --format torch-csv: add SEND/RECV cells (PyTorch's compute_comms format)", false)
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .option('--no-color', 'plain output without ANSI colours')
    .option('--memory <K>', 'auto: activation units per device (default 2P)', (value: string) => {
      const number = Number(value);
      if (!Number.isFinite(number) || number <= 0) throw new InvalidArgumentError(`--memory must be a positive number, got '${value}'`);
      return number;
    })
    .option('--cost <spec>', 'auto: uniform costs, e.g. F=1,I=1,W=1,C=0.5 (default unit costs)')
    .action((name: string, options: Omit<ScheduleCommandOptions, 'stagesPerDevice'> & { stagesPerDevice?: number }) => {
      const color = options.color !== false && process.stderr.isTTY === true && !process.env.NO_COLOR;
      const result = runSchedule(name, { ...options, stagesPerDevice: options.stagesPerDevice ?? defaultStagesPerDevice(name), color });
      if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
      setExitCode(result.exitCode);
      if (result.output !== undefined) setExitCode(writeOutput(options.output, result.output));
    });
}

/** The V-shaped families need two stages per device; the rest default to one. */
export function defaultStagesPerDevice(name: string): number {
  const key = name.toLowerCase().replace(/-/g, '_');
  return ['zb_v', 'v_half', 'v_min', 'dualpipe_v', 'interleaved_1f1b', 'looped_bfs'].includes(key) ? 2 : 1;
}

/** The command's work without process I/O, for tests and the benchmark. */
export function runSchedule(name: string, options: ScheduleCommandOptions): { output?: string; errorOutput: string; exitCode: number; schedule?: ComputeSchedule } {
  const sources = new Map([[STANDARD_SCHEDULES, standardLibrary(STANDARD_SCHEDULES) ?? '']]);
  const fail = (diagnostics: Diagnostic[]) => ({
    errorOutput: renderDiagnostics(diagnostics, sources, { color: options.color ?? false, format: 'text' }),
    exitCode: 1,
  });
  let built: { schedule?: ComputeSchedule; diagnostics: Diagnostic[] };
  if (name.trim().toLowerCase() === 'auto') {
    // The automatic scheduler (compiler/autoschedule/bare.ts); its problems are usage errors.
    const auto = bareAutoSchedule({ devices: options.devices, microbatches: options.microbatches, stagesPerDevice: options.stagesPerDevice, memory: options.memory, cost: options.cost });
    if ('error' in auto) return { errorOutput: `pipec: ${auto.error}\n`, exitCode: 2 };
    built = { schedule: auto.schedule, diagnostics: [] };
  } else built = builtinSchedule(name, { devices: options.devices, microbatches: options.microbatches, stagesPerDevice: options.stagesPerDevice });
  if (!built.schedule) return fail(built.diagnostics);
  const schedule = built.schedule;
  const problems = validateSchedule(schedule);
  if (problems.length > 0) return fail(problemsToDiagnostics(problems, spanOf(STANDARD_SCHEDULES, 0, 0)));
  const proof = proveDeadlockFree(lowerToInstructionStreams(schedule, unitStageInfo(schedule.stages)));
  if (!proof.deadlockFree) return fail([makeDiagnostic(diagnosticMessages.deadlock, spanOf(STANDARD_SCHEDULES, 0, 0), { detail: describeDeadlock(proof) })]);

  let output: string;
  switch (options.format) {
    case 'torch-csv':
      output = exportTorchCsv(schedule, { comms: options.comms });
      break;
    case 'json':
      output = `${JSON.stringify(scheduleJson(schedule))}\n`;
      break;
    case 'ir':
      output = `${JSON.stringify(bareScheduleIr(schedule))}\n`;
      break;
    case 'text':
      output = scheduleText(schedule);
      break;
  }
  return { output, errorOutput: '', exitCode: 0, schedule };
}

/** The order as plain data: one array of actions per device. */
export function scheduleJson(schedule: ComputeSchedule) {
  const timing = timeSchedule(schedule);
  return {
    name: schedule.name,
    devices: schedule.devices,
    stages: schedule.stages,
    microbatches: schedule.microbatches,
    stageDevice: schedule.stageDevice,
    splitBackward: schedule.splitBackward,
    unitCosts: { makespan: timing.makespan, bubble: timing.bubble, peakActivations: peakLiveActivations(schedule) },
    orders: schedule.orders.map((order) =>
      order.map((action) => (action.overlapGroup === undefined
        ? { operation: action.operation, stage: action.stage, microbatch: action.microbatch }
        : { operation: action.operation, stage: action.stage, microbatch: action.microbatch, overlapGroup: action.overlapGroup }))),
  };
}

/** One row per device, cells in PyTorch's notation, and the unit-cost summary. */
export function scheduleText(schedule: ComputeSchedule): string {
  const timing = timeSchedule(schedule);
  const peaks = peakLiveActivations(schedule);
  const rows = exportTorchCsv(schedule, { comms: false }).trimEnd().split('\n');
  const width = String(schedule.devices - 1).length;
  const lines = rows.map((row, device) => `device ${String(device).padStart(width)}: ${row.split(',').join(' ')}`);
  lines.push(
    `${schedule.name}: ${schedule.devices} devices, ${schedule.stages} stages, ${schedule.microbatches} microbatches; ` +
      `unit costs (F=I=W=1, B=2): makespan ${timing.makespan}, bubble ${(timing.bubble * 100).toFixed(1)}%, ` +
      `peak activations per device ${peaks.join(' ')}`,
  );
  return `${lines.join('\n')}\n`;
}

// Writing a command's result to a file or standard output (shared by
// compile and export): a file that cannot be written is a usage problem
// (exit 2) with a one-line message, never a stack trace.
/** Returns the exit code: 0 written, 2 when the file cannot be written. */
