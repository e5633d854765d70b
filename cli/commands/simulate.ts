// `pipec simulate FILE [--costs F | --unit] [--format text|json]`, and without
// a .pipe file: `pipec simulate --schedule NAME -p P -m M [-v V] [--cost ...]`
// or `pipec simulate --torch-csv FILE`. The core compiles (or builds) the
// schedule and runs the event-driven simulator; this prints makespan,
// bubble per device and overall, peak memory per device broken down, and
// the critical path. Exit 0 clean, 1 errors (diagnostics, a stuck
// simulation), 2 usage.
//
// buildScenarios is shared with `pipec show` (and `--compare`).

import type { Command } from 'commander';
import {
  compileBareSchedule, compileTorchCsv, continueCompilation, describeStuck, formatMemory, formatPercent, formatTime, memoryPlanLines,
  normaliseScheduleName, simulateCompilation, simulationSummary, succeeded, withSchedule, type Compilation, type SimulatedCompilation,
} from '../../compiler/index.ts';
import { compileForCommand } from '../compileForCommand.ts';
import { setExitCode } from '../exitCode.ts';
import { addFormatOptions, addMaxErrorsOption, chosenFormat, costChoice, positiveInteger, positiveNumber, readInputFile, useColor } from '../io.ts';
import { renderCompilationProblems } from '../render.ts';
import { addWatchOption, watchAndRerun } from '../watch.ts';

/** Where the schedules come from and how they are costed (shared by simulate and show). */
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
  readonly maxErrors?: number;
}

export type Scenario = SimulatedCompilation;

export interface ScenarioOutcome {
  readonly scenarios: Scenario[];
  readonly errorOutput: string;
  readonly exitCode: number;
}

/** The options simulate and show share. */
export function addScenarioOptions(command: Command): Command {
  return addMaxErrorsOption(command
    .argument('[file]', '.pipe program (omit with --schedule or --torch-csv)')
    .option('--pipeline <name>', 'the pipeline to simulate (default: the first in the file)')
    .option('--costs <file>', 'measured costs (JSON, written by pipec profile; see docs/costs.md)')
    .option('--unit', 'unit costs: F = I = W = 1, B = 2, no communication time')
    .option('--schedule <name>', 'a built-in schedule (or auto) on a bare pipeline, no .pipe file')
    .option('-p, --devices <P>', 'with --schedule: pipeline devices', positiveInteger('-p'))
    .option('-m, --microbatches <M>', 'with --schedule: microbatches', positiveInteger('-m'))
    .option('-v, --stages-per-device <V>', "with --schedule: stages per device (default: the schedule's own)", positiveInteger('-v'))
    .option('--cost <spec>', 'with --schedule or --torch-csv: uniform costs, e.g. F=1,I=1.1,W=0.8,C=0.5')
    .option('--memory <K>', 'with --schedule auto: activation units per device (default 2p)', positiveNumber('--memory'))
    .option('--torch-csv <file>', "a PyTorch schedule CSV (pipeline_order), no .pipe file")
    .option('--no-color', 'plain output without ANSI colours'));
}

/** The files a scenario names on the command line (what --watch watches before the first run reads them). */
export function scenarioInputs(options: ScenarioOptions): string[] {
  return [options.file, options.costs, options.torchCsv].filter((file): file is string => file !== undefined);
}

function usage(message: string): ScenarioOutcome {
  return { scenarios: [], errorOutput: `pipec: ${message}\n`, exitCode: 2 };
}

/**
 * Simulates the program's schedule (or each of `compare`), a bare built-in
 * schedule, or an imported CSV, as the options say.
 */
export function buildScenarios(options: ScenarioOptions, compare?: readonly string[], purpose = 'simulate'): ScenarioOutcome {
  // `show --compare a,b -p P -m M` needs no --schedule: the names are the schedules.
  const bare = options.schedule !== undefined || (compare !== undefined && options.file === undefined && options.torchCsv === undefined && options.devices !== undefined);
  const sourcesGiven = [options.file !== undefined, bare, options.torchCsv !== undefined].filter(Boolean).length;
  if (sourcesGiven === 0) return usage('give a .pipe FILE, or --schedule NAME -p P -m M, or --torch-csv FILE');
  if (sourcesGiven > 1) return usage('give only one of a .pipe FILE, --schedule and --torch-csv');
  const render = { color: options.color ?? false, format: 'text' as const, maxErrors: options.maxErrors, purpose };
  const outcome = { scenarios: [] as Scenario[], errorOutput: '', exitCode: 0 };
  const add = (compilation: Compilation, prefix = ''): void => {
    const simulated = succeeded(compilation) ? simulateCompilation(compilation) : undefined;
    const problems = renderCompilationProblems(compilation, render);
    if (problems.text !== '') outcome.errorOutput += (simulated === undefined ? prefix : '') + problems.text;
    outcome.exitCode = Math.max(outcome.exitCode, problems.exitCode);
    if (simulated !== undefined) outcome.scenarios.push(simulated);
  };

  if (options.file !== undefined) {
    if (options.cost !== undefined) return usage('--cost is for bare pipelines; a .pipe program takes --costs FILE or --unit');
    // With --compare, the program's own schedule need not compile for the others to be drawn.
    const base = compileForCommand(options.file, purpose, { ...options, format: 'text', until: compare === undefined ? 'verify' : 'check' });
    if (!base.ok) return { scenarios: [], errorOutput: base.errorOutput, exitCode: base.exitCode };
    if (compare === undefined) {
      add(base.compilation);
      return outcome;
    }
    for (const name of compare) {
      const variant = normaliseScheduleName(name) === base.compilation.program!.pipeline.schedule.name ? continueCompilation(base.compilation) : withSchedule(base.compilation, name);
      add(variant, `pipec: with schedule ${normaliseScheduleName(name)}${variant.restaged ? ` (${variant.restaged})` : ''}:\n`);
    }
    return outcome;
  }
  if (options.costs !== undefined) return usage('--costs FILE needs a .pipe program (for bare pipelines use --cost F=..,I=..,W=..,C=..)');
  const costs = costChoice({ cost: options.cost });
  if ('error' in costs) return { scenarios: [], errorOutput: costs.error, exitCode: 2 };
  if (options.torchCsv !== undefined) {
    const read = readInputFile(options.torchCsv);
    if ('error' in read) return { scenarios: [], errorOutput: read.error, exitCode: 2 };
    add(compileTorchCsv(read.text, options.torchCsv, options.microbatches === undefined ? {} : { microbatches: options.microbatches }, { costs: costs.choice }));
    return outcome;
  }
  if (options.devices === undefined || options.microbatches === undefined) return usage('--schedule needs -p P and -m M');
  for (const name of compare ?? [options.schedule!]) {
    const compilation = compileBareSchedule(
      { name, devices: options.devices, microbatches: options.microbatches, stagesPerDevice: options.stagesPerDevice, memory: options.memory },
      { costs: costs.choice },
    );
    if (compilation.stop?.kind === 'usage') return usage(compilation.stop.message);
    add(compilation);
  }
  return outcome;
}

export interface SimulateCommandOptions extends ScenarioOptions {
  readonly format: 'text' | 'json';
  readonly json?: boolean;
  readonly watch?: boolean;
}

export function register(program: Command): void {
  const command = addScenarioOptions(
    program
      .command('simulate')
      .description('simulate a schedule: makespan, bubble per device, peak memory per device, critical path'),
  );
  addWatchOption(addFormatOptions(command, ['text', 'json'], 'text'))
    .action(async (file: string | undefined, options: Omit<SimulateCommandOptions, 'file'>) => {
      const once = () => {
        const { output, errorOutput, exitCode } = runSimulate({ ...options, format: chosenFormat(options, 'text'), file, color: useColor(options.color) });
        if (output !== '') process.stdout.write(output);
        if (errorOutput !== '') process.stderr.write(errorOutput);
        setExitCode(exitCode);
      };
      if (options.watch) await watchAndRerun(once, scenarioInputs({ ...options, file }));
      else once();
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
    errorOutput += describeStuck(scenario).map((line) => `pipec: ${line}\n`).join('');
    exitCode = Math.max(exitCode, 1);
  }
  const output = options.format === 'json' ? `${JSON.stringify(simulationSummary(scenario), null, 2)}\n` : simulationText(scenario);
  return { output, errorOutput, exitCode };
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
  const plan = scenario.compilation.memoryPlan;
  // auto with memory actions: what it recomputes or offloads, and its makespan without them under the same limit.
  if (plan !== undefined) lines.push(...memoryPlanLines(plan, time, memory));
  return `${lines.join('\n')}\n`;
}

