// `pipec simulate FILE [--costs F | --unit] [--format text|json]`, and without
// a .pipe file: `pipec simulate --schedule NAME -p P -m M [-v V] [--cost ...]`
// or `pipec simulate --torch-csv FILE`. Compiles (or builds) the schedule,
// lowers it to instruction streams and runs the event-driven simulator:
// makespan, bubble per device and overall, peak memory per device broken
// down, and the critical path. Exit 0 clean, 1 errors (diagnostics, a stuck
// simulation), 2 usage.
//
// buildScenarios is shared with `pipec show` (and `--compare`).

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import type { Diagnostic } from '../../grammar/diagnostic.ts';
import { parse } from '../../grammar/index.ts';
import { printDocument } from '../../grammar/printer.ts';
import { spanOf } from '../../grammar/source.ts';
import { autoSchedule } from '../../compiler/autoschedule/autoSchedule.ts';
import { bareAutoSchedule } from '../../compiler/autoschedule/bare.ts';
import { deriveCostModel, readCostsFile } from '../../compiler/cost/costModel.ts';
import { costModelFromSpec, parseCostSpec, UNIT_COST_SPEC } from '../../compiler/cost/costSpec.ts';
import { unitCostModel, type CostModel } from '../../compiler/cost/types.ts';
import { compileProgram } from '../../compiler/lower/compile.ts';
import { lowerToInstructionStreams, unitStageInfo } from '../../compiler/lower/lower.ts';
import { checkProgram, type CheckResult } from '../../compiler/check/index.ts';
import { readExternModuleLazily } from '../externReader.ts';
import type { CompilerHost } from '../../compiler/host.ts';
import type { CheckedProgram } from '../../compiler/program.ts';
import { builtinSchedule, normaliseScheduleName, standardSchedules } from '../../compiler/schedule/builtin.ts';
import { requiredPlacement } from '../../compiler/schedule/evaluate.ts';
import type { ComputeSchedule } from '../../compiler/schedule/types.ts';
import { problemsToDiagnostics, validateSchedule } from '../../compiler/schedule/validate.ts';
import { simulate, simulateIr, type SimulationResult } from '../../compiler/simulate/simulate.ts';
import { formatMemory, formatPercent, formatTime, type MemoryUnit, type TimeUnit } from '../../compiler/show/format.ts';
import { STANDARD_SCHEDULES, standardLibrary } from '../../compiler/stdlib/index.ts';
import { importTorchCsv } from '../../compiler/torch/csv.ts';
import { findPipeline, rewriteDocument, rewriteSchedule } from '../../compiler/tune/tune.ts';
import { createNodeHost, loadAndCheck } from '../loadProgram.ts';
import { setExitCode } from '../main.ts';
import { positiveInteger } from '../commandSupport.ts';
import { renderDiagnostics } from '../render.ts';
import { defaultStagesPerDevice } from './schedule.ts';

/** Where the schedules come from and how they are costed (shared by simulate, show and tune). */
export interface ScenarioOptions {
  readonly file?: string;
  readonly pipeline?: string;
  /** Measured costs file. */
  readonly costs?: string;
  /** F = I = W = 1, no communication. */
  readonly unit?: boolean;
  /** Uniform costs for bare pipelines: `F=1,I=1,W=1,C=0.5`. */
  readonly cost?: string;
  readonly schedule?: string;
  readonly devices?: number;
  readonly microbatches?: number;
  readonly stagesPerDevice?: number;
  /** Activation units per device for `auto` on bare pipelines (default 2p). */
  readonly memory?: number;
  readonly torchCsv?: string;
  readonly color?: boolean;
}

export interface Scenario {
  readonly label: string;
  readonly title: string;
  readonly schedule: ComputeSchedule;
  readonly result: SimulationResult;
  readonly costs: CostModel;
  readonly timeUnit: TimeUnit;
  readonly memoryUnit: MemoryUnit;
  /** Device capacity in bytes, when a cluster declares it. */
  readonly capacity?: readonly number[];
}

export interface ScenarioOutcome {
  readonly scenarios: Scenario[];
  readonly errorOutput: string;
  readonly exitCode: number;
}

const positiveNumber = (flag: string) => (value: string) => {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new InvalidArgumentError(`${flag} must be a positive number, got '${value}'`);
  return number;
};

/** The options simulate and show share. */
export function addScenarioOptions(command: Command): Command {
  return command
    .argument('[file]', '.pipe program (omit with --schedule or --torch-csv)')
    .option('--pipeline <name>', 'the pipeline to simulate (default: the first in the file)')
    .option('--costs <file>', 'measured costs (JSON, written by pipec profile; see docs/costs.md)')
    .option('--unit', 'unit costs: F = I = W = 1, B = 2, no communication time')
    .option('--schedule <name>', 'a built-in schedule (or auto) on a bare pipeline, no .pipe file')
    .option('-p, --devices <P>', 'with --schedule: pipeline devices', positiveInteger('-p'))
    .option('-m, --microbatches <M>', 'with --schedule: microbatches', positiveInteger('-m'))
    .option('-v, --stages-per-device <V>', 'with --schedule: stages per device (default 2 for V-shaped and interleaved schedules)', positiveInteger('-v'))
    .option('--cost <spec>', 'with --schedule or --torch-csv: uniform costs, e.g. F=1,I=1.1,W=0.8,C=0.5')
    .option('--memory <K>', 'with --schedule auto: activation units per device (default 2p)', positiveNumber('--memory'))
    .option('--torch-csv <file>', "a PyTorch schedule CSV (pipeline_order), no .pipe file")
    .option('--no-color', 'plain output without ANSI colours');
}

function usage(message: string): ScenarioOutcome {
  return { scenarios: [], errorOutput: `pipec: ${message}\n`, exitCode: 2 };
}

/**
 * Simulates the program's schedule (or each of `compare`), a bare built-in
 * schedule, or an imported CSV, as the options say.
 */
export function buildScenarios(options: ScenarioOptions, compare?: readonly string[]): ScenarioOutcome {
  // `show --compare a,b -p P -m M` needs no --schedule: the names are the schedules.
  const bare = options.schedule !== undefined || (compare !== undefined && options.file === undefined && options.torchCsv === undefined && options.devices !== undefined);
  const sourcesGiven = [options.file !== undefined, bare, options.torchCsv !== undefined].filter(Boolean).length;
  if (sourcesGiven === 0) return usage('give a .pipe FILE, or --schedule NAME -p P -m M, or --torch-csv FILE');
  if (sourcesGiven > 1) return usage('give only one of a .pipe FILE, --schedule and --torch-csv');
  if (options.costs !== undefined && (options.unit || options.cost !== undefined)) return usage('--costs cannot be combined with --unit or --cost');
  if (options.file !== undefined) {
    if (options.cost !== undefined) return usage('--cost is for bare pipelines; a .pipe program takes --costs FILE or --unit');
    return programScenarios(options.file, options, compare);
  }
  if (options.costs !== undefined) return usage('--costs FILE needs a .pipe program (for bare pipelines use --cost F=..,I=..,W=..,C=..)');
  const spec = options.cost === undefined ? UNIT_COST_SPEC : parseCostSpec(options.cost);
  if (typeof spec === 'string') return usage(`--cost: ${spec}`);
  if (options.torchCsv !== undefined) return csvScenario(options.torchCsv, options, spec);
  if (options.devices === undefined || options.microbatches === undefined) return usage('--schedule needs -p P and -m M');
  const names = compare ?? [options.schedule!];
  const scenarios: Scenario[] = [];
  let errorOutput = '';
  let exitCode = 0;
  const sources = new Map([[STANDARD_SCHEDULES, standardLibrary(STANDARD_SCHEDULES) ?? '']]);
  for (const name of names) {
    const built = bareSchedule(name, options);
    if (typeof built === 'string') return usage(built);
    if (!built.schedule) {
      errorOutput += renderDiagnostics(built.diagnostics, sources, { color: options.color ?? false, format: 'text' });
      exitCode = 1;
      continue;
    }
    const costs = costModelFromSpec(spec, built.schedule.stageDevice);
    const problems = validateSchedule(built.schedule);
    if (problems.length > 0) {
      errorOutput += renderDiagnostics(problemsToDiagnostics(problems, spanOf(STANDARD_SCHEDULES, 0, 0)), sources, { color: options.color ?? false, format: 'text' });
      exitCode = 1;
      continue;
    }
    const result = simulate(lowerToInstructionStreams(built.schedule, unitStageInfo(built.schedule.stages)), costs);
    scenarios.push({
      label: normaliseScheduleName(name),
      title: `${normaliseScheduleName(name)} · ${built.schedule.devices} devices, ${built.schedule.stages} stages, ${built.schedule.microbatches} microbatches · ${describeSpec(options.cost)}`,
      schedule: built.schedule,
      result,
      costs,
      timeUnit: 'steps',
      memoryUnit: 'activations',
    });
  }
  return { scenarios, errorOutput, exitCode };
}

function describeSpec(text: string | undefined): string {
  return text === undefined ? 'unit costs' : `costs ${text}`;
}

function bareSchedule(name: string, options: ScenarioOptions): { schedule?: ComputeSchedule; diagnostics: Diagnostic[] } | string {
  const devices = options.devices!;
  const microbatches = options.microbatches!;
  if (normaliseScheduleName(name) === 'auto') {
    const built = bareAutoSchedule({ devices, microbatches, stagesPerDevice: options.stagesPerDevice, memory: options.memory, cost: options.cost });
    return 'error' in built ? built.error : { schedule: built.schedule, diagnostics: [] };
  }
  return builtinSchedule(name, { devices, microbatches, stagesPerDevice: options.stagesPerDevice ?? defaultStagesPerDevice(name) });
}

function csvScenario(file: string, options: ScenarioOptions, spec: Exclude<ReturnType<typeof parseCostSpec>, string>): ScenarioOutcome {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return usage(`${file} does not exist or is not readable`);
  }
  const sources = new Map([[file, text]]);
  const render = (diagnostics: readonly Diagnostic[]) => renderDiagnostics(diagnostics, sources, { color: options.color ?? false, format: 'text' });
  const imported = importTorchCsv(text, file, options.microbatches === undefined ? {} : { microbatches: options.microbatches });
  const errors = imported.diagnostics.filter((d) => d.severity === 'error');
  if (!imported.schedule || errors.length > 0) return { scenarios: [], errorOutput: render(imported.diagnostics), exitCode: 1 };
  const problems = validateSchedule(imported.schedule);
  if (problems.length > 0) return { scenarios: [], errorOutput: render(problemsToDiagnostics(problems, spanOf(file, 0, 0))), exitCode: 1 };
  const schedule = imported.schedule;
  const costs = costModelFromSpec(spec, schedule.stageDevice);
  const result = simulate(lowerToInstructionStreams(schedule, unitStageInfo(schedule.stages)), costs);
  return {
    scenarios: [{
      label: schedule.name,
      title: `${file} · ${schedule.devices} devices, ${schedule.stages} stages, ${schedule.microbatches} microbatches · ${describeSpec(options.cost)}`,
      schedule,
      result,
      costs,
      timeUnit: 'steps',
      memoryUnit: 'activations',
    }],
    errorOutput: imported.diagnostics.length > 0 ? render(imported.diagnostics) : '',
    exitCode: 0,
  };
}

/**
 * Checks `text` as if it were the entry file `file` (imports resolve as
 * usual): how tune and --compare put rewritten programs through the checker.
 */
export function checkText(file: string, text: string, pipeline: string | undefined): CheckResult {
  const entry = path.normalize(file);
  const nodeHost = createNodeHost();
  const host: CompilerHost = { ...nodeHost, readFile: (name) => (path.normalize(name) === entry ? text : nodeHost.readFile(name)) };
  return checkProgram(entry, host, { pipeline, readExternModule: readExternModuleLazily });
}

/**
 * The program with another schedule in place of its own (for --compare):
 * the pipeline's `schedule` line is rewritten and the file checked again, so
 * the other schedule gets the same checks as if the user had written it.
 * A schedule that requires another placement (zb-v on a one-stage-per-device
 * program) gets the same model and cluster re-split for it: `stages auto(2p)
 * balance compute placement P`, and says so in its label.
 */
function programWithSchedule(
  file: string,
  program: CheckedProgram,
  name: string,
): { program?: CheckedProgram; diagnostics: readonly Diagnostic[]; sources: ReadonlyMap<string, string>; restaged?: string } {
  const key = normaliseScheduleName(name);
  if (key === program.pipeline.schedule.name) return { program, diagnostics: [], sources: program.sources };
  const text = readFileSync(file, 'utf8');
  const document = parse({ name: path.normalize(file), text }).document;
  const pipeline = findPipeline(document, program.pipeline.name);
  if (pipeline === undefined) return { diagnostics: [], sources: program.sources };
  // auto gets the memory of the program's own schedule (1F1B's when that is auto too).
  const own = program.pipeline.schedule.name;
  const reference = own === 'auto' ? '1f1b' : own;
  const scheduleText = key === 'auto' ? `auto(memory: 1 * activations(${reference}))` : key;
  const checked = checkText(file, printDocument(rewriteSchedule(document, pipeline, scheduleText)), program.pipeline.name);
  const declaration = standardSchedules().get(key);
  const required = declaration === undefined ? undefined : requiredPlacement(declaration);
  if (required === undefined || !checked.diagnostics.some((d) => d.code === 'PIPE4012')) {
    return { program: checked.program, diagnostics: checked.diagnostics, sources: checked.sources };
  }
  const devices = program.pipeline.devicesPerReplica;
  const restaged = rewriteDocument(document, pipeline, {
    stages: 2 * devices,
    stagesPerDevice: 2,
    placement: required,
    microbatches: program.pipeline.microbatches,
    schedule: scheduleText,
  });
  const again = checkText(file, printDocument(restaged), program.pipeline.name);
  return { program: again.program, diagnostics: again.diagnostics, sources: again.sources, restaged: `${2 * devices} stages, placement ${required}` };
}

function programScenarios(file: string, options: ScenarioOptions, compare?: readonly string[]): ScenarioOutcome {
  const loaded = loadAndCheck(file, { pipeline: options.pipeline });
  if (loaded.kind === 'missing') return usage(loaded.message.replace(/^pipec: /, ''));
  const sources = new Map(loaded.sources);
  const render = (diagnostics: readonly Diagnostic[]) => renderDiagnostics(diagnostics, sources, { color: options.color ?? false, format: 'text' });
  if (!loaded.ok || loaded.program === undefined) return { scenarios: [], errorOutput: render(loaded.diagnostics), exitCode: 1 };
  const program = loaded.program;

  const unit = options.unit === true;
  let costsText: string | undefined;
  if (options.costs !== undefined) {
    try {
      costsText = readFileSync(options.costs, 'utf8');
    } catch {
      return usage(`${options.costs} does not exist or is not readable`);
    }
    sources.set(options.costs, costsText);
  }
  const costsFor = (variant: CheckedProgram): { costs?: CostModel; diagnostics: readonly Diagnostic[] } => {
    if (unit) return { costs: unitCostModel(variant.pipeline.stages.length), diagnostics: [] };
    if (costsText !== undefined) return readCostsFile(costsText, options.costs!, variant);
    return { costs: deriveCostModel(variant), diagnostics: [] };
  };
  const own = costsFor(program);
  if (!own.costs) return { scenarios: [], errorOutput: render(own.diagnostics), exitCode: 1 };

  const scenarios: Scenario[] = [];
  let errorOutput = '';
  let exitCode = 0;
  for (const name of compare ?? [program.pipeline.schedule.name]) {
    const checked = programWithSchedule(file, program, name);
    if (checked.program === undefined || checked.diagnostics.some((d) => d.severity === 'error')) {
      // Diagnostics of the rewritten text point into it; show them against it, labelled.
      errorOutput += `pipec: with schedule ${normaliseScheduleName(name)}:\n${renderDiagnostics(checked.diagnostics, checked.sources, { color: options.color ?? false, format: 'text' })}`;
      exitCode = 1;
      continue;
    }
    const variant = checked.program;
    const variantCosts = costsFor(variant);
    if (!variantCosts.costs) {
      errorOutput += `pipec: with schedule ${normaliseScheduleName(name)}${checked.restaged ? ` (${checked.restaged})` : ''}:\n${render(variantCosts.diagnostics)}`;
      exitCode = 1;
      continue;
    }
    const costs = variantCosts.costs;
    const compiled = compileProgram(variant, { costs, autoSchedule });
    const errors = compiled.diagnostics.filter((d) => d.severity === 'error');
    if (!compiled.ir || !compiled.schedule || errors.length > 0) {
      const prefix = compare === undefined ? '' : `pipec: with schedule ${normaliseScheduleName(name)}:\n`;
      errorOutput += prefix + renderDiagnostics(compiled.diagnostics, checked.sources, { color: options.color ?? false, format: 'text' });
      exitCode = 1;
      continue;
    }
    const result = unit ? simulate(compiled.ir.devices, costs) : simulateIr(compiled.ir, costs);
    scenarios.push({
      label: checked.restaged ? `${variant.pipeline.schedule.name} (${checked.restaged})` : variant.pipeline.schedule.name,
      title: `pipeline ${variant.pipeline.name} · schedule ${variant.pipeline.schedule.name} · ${variant.pipeline.devicesPerReplica} devices${variant.pipeline.replicas > 1 ? ` × ${variant.pipeline.replicas} replicas` : ''}, ${variant.pipeline.stages.length} stages${variant.pipeline.placement.kind === 'v' ? ' (placement v)' : ''}, ${variant.pipeline.microbatches} microbatches · ${unit ? 'unit costs' : options.costs !== undefined ? `measured costs (${options.costs})` : 'costs derived from FLOPs and links'}`,
      schedule: compiled.schedule,
      result,
      costs,
      timeUnit: unit ? 'steps' : 'seconds',
      memoryUnit: unit ? 'activations' : 'bytes',
      capacity: unit ? undefined : compiled.ir.devices.map((device) => device.memory.capacity),
    });
  }
  return { scenarios, errorOutput, exitCode };
}

export interface SimulateCommandOptions extends ScenarioOptions {
  readonly format: 'text' | 'json';
}

export function register(program: Command): void {
  addScenarioOptions(
    program
      .command('simulate')
      .description('simulate a schedule: makespan, bubble per device, peak memory per device, critical path'),
  )
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((file: string | undefined, options: Omit<SimulateCommandOptions, 'file'>) => {
      const color = options.color !== false && process.stderr.isTTY === true && !process.env.NO_COLOR;
      const { output, errorOutput, exitCode } = runSimulate({ ...options, file, color });
      if (output !== '') process.stdout.write(output);
      if (errorOutput !== '') process.stderr.write(errorOutput);
      setExitCode(exitCode);
    });
}

/** The command's work without process I/O, for tests. */
export function runSimulate(options: SimulateCommandOptions): { output: string; errorOutput: string; exitCode: number } {
  const outcome = buildScenarios(options);
  let exitCode = outcome.exitCode;
  let errorOutput = outcome.errorOutput;
  const [scenario] = outcome.scenarios;
  if (scenario === undefined) return { output: '', errorOutput, exitCode: Math.max(exitCode, 1) };
  if (scenario.result.stuck.length > 0) {
    errorOutput += scenario.result.stuck.map((s) => `pipec: device ${s.device} is stuck at instruction ${s.index} (${s.instruction.op}), waiting for ${s.waitsFor}\n`).join('');
    exitCode = Math.max(exitCode, 1);
  }
  const output = options.format === 'json' ? `${JSON.stringify(simulationJson(scenario), null, 2)}\n` : simulationText(scenario);
  return { output, errorOutput, exitCode };
}

/** Everything but the timelines (those go to `pipec show --trace`). */
export function simulationJson(scenario: Scenario) {
  const { result } = scenario;
  return {
    schedule: scenario.label,
    title: scenario.title,
    costs: scenario.costs.kind,
    timeUnit: scenario.timeUnit,
    memoryUnit: scenario.memoryUnit,
    makespan: result.makespan,
    bubble: result.bubble,
    devices: result.devices.map((device, d) => ({
      device: device.device,
      label: device.label,
      busy: device.busy,
      idle: device.idle,
      bubble: device.bubble,
      finish: device.finish,
      memory: scenario.capacity ? { ...device.memory, capacity: scenario.capacity[d] } : device.memory,
    })),
    criticalPath: result.criticalPath,
    stuck: result.stuck.map((s) => ({ device: s.device, index: s.index, op: s.instruction.op, waitsFor: s.waitsFor })),
  };
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd()).join('\n');
}

export function simulationText(scenario: Scenario): string {
  const { result, timeUnit, memoryUnit } = scenario;
  const time = (value: number) => formatTime(value, timeUnit);
  const memory = (value: number) => formatMemory(value, memoryUnit);
  const lines = [scenario.title, `makespan ${time(result.makespan)}, bubble ${formatPercent(result.bubble)}`, ''];
  // Unit costs count activations only; weights and optimizer state have no unit there.
  const withStatic = memoryUnit === 'bytes';
  const header = ['device', 'busy', 'idle', 'bubble', ...(withStatic ? ['weights', 'grads', 'optimizer'] : []), 'activations', 'peak'];
  if (scenario.capacity) header.push('capacity');
  const rows: string[][] = [header];
  result.devices.forEach((device, d) => {
    const row = [
      device.label,
      time(device.busy),
      time(device.idle),
      formatPercent(device.bubble),
      ...(withStatic ? [memory(device.memory.weights), memory(device.memory.gradients), memory(device.memory.optimizerState)] : []),
      memory(device.memory.activations),
      memory(device.memory.peak),
    ];
    if (scenario.capacity) row.push(`${memory(scenario.capacity[d])}${device.memory.peak > scenario.capacity[d] ? ' (over)' : ''}`);
    rows.push(row);
  });
  lines.push(table(rows), '');
  const path = result.criticalPath;
  if (path.length > 0) {
    const compute = path.filter((step) => step.kind !== 'transfer');
    const transferTime = path.filter((step) => step.kind === 'transfer').reduce((sum, step) => sum + step.end - step.start, 0);
    const shown = path.length <= 16 ? path : [...path.slice(0, 8), undefined, ...path.slice(-7)];
    const steps = shown.map((step) => {
      if (step === undefined) return '…';
      if (step.kind === 'transfer') return '→';
      if (step.kind === 'F' || step.kind === 'B' || step.kind === 'I' || step.kind === 'W') return `${step.stage}${step.kind}${step.microbatch}@${step.device}`;
      return step.kind === 'allreduce' || step.kind === 'optimizer' ? `${step.kind}(s${step.stage})@${step.device}` : `${step.kind}(${step.stage},${step.microbatch})@${step.device}`;
    });
    lines.push(
      `critical path: ${compute.length} actions${transferTime > 0 ? ` and ${time(transferTime)} of transfers` : ''}: ${steps.join(' ')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

