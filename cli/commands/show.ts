// `pipec show FILE -o timeline.svg [--compare 1f1b,zb-h1,zb-v] [--format text]
// [--trace out.json]`, and the same without a .pipe file (--schedule NAME -p
// -m [-v], --torch-csv FILE). Simulates the schedule(s) and draws the
// timeline: SVG (one row per device, several schedules on one time axis),
// a compact text timeline for the terminal, or a Chrome/Perfetto trace.

import type { Command } from 'commander';
import { Option } from 'commander';
import { mergePerfettoTraces, renderTimelineSvg, renderTimelineText, toPerfettoTrace } from '../../compiler/index.ts';
import { setExitCode } from '../exitCode.ts';
import { useColor, writeOutput } from '../io.ts';
import { addScenarioOptions, buildScenarios, type ScenarioOptions } from './simulate.ts';

export interface ShowCommandOptions extends ScenarioOptions {
  readonly output?: string;
  readonly compare?: string;
  readonly format: 'svg' | 'text';
  readonly trace?: string;
}

export function register(program: Command): void {
  addScenarioOptions(
    program
      .command('show')
      .description('draw the schedule timeline: SVG (-o), text (--format text), Perfetto trace (--trace)'),
  )
    .option('-o, --output <file>', 'write the SVG here (default: standard output)')
    .option('--compare <names>', 'several schedules stacked on one time axis, e.g. 1f1b,zb-h1,zb-v')
    .addOption(new Option('--format <format>', 'picture format').choices(['svg', 'text']).default('svg'))
    .option('--trace <file>', 'also write a Chrome/Perfetto trace (JSON, one track per device)')
    .action((file: string | undefined, options: Omit<ShowCommandOptions, 'file'>) => {
      const result = runShow({ ...options, file, color: useColor(options.color) });
      if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
      setExitCode(result.exitCode);
      for (const [path, content] of result.files) setExitCode(writeOutput(path, content));
      if (result.output !== '') process.stdout.write(result.output);
    });
}

/** The command's work without process I/O: what to print and which files to write. */
export function runShow(options: ShowCommandOptions): { output: string; errorOutput: string; exitCode: number; files: Map<string, string> } {
  const compare = options.compare?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (compare !== undefined && compare.length === 0) {
    return { output: '', errorOutput: 'pipec: --compare needs schedule names, e.g. --compare 1f1b,zb-h1\n', exitCode: 2, files: new Map() };
  }
  const outcome = buildScenarios(options, compare, 'show');
  const files = new Map<string, string>();
  if (outcome.scenarios.length === 0) return { output: '', errorOutput: outcome.errorOutput, exitCode: Math.max(outcome.exitCode, 1), files };
  const { scenarios } = outcome;
  const units = { timeUnit: scenarios[0].timeUnit, memoryUnit: scenarios[0].memoryUnit };
  let output = '';
  if (options.format === 'text') {
    output = scenarios.map((scenario) => `${scenario.title}\n${renderTimelineText(scenario.result, units)}`).join('\n');
    if (options.output !== undefined) {
      files.set(options.output, output);
      output = '';
    }
  } else {
    const svg = renderTimelineSvg(scenarios.map((scenario) => ({ label: scenario.label, result: scenario.result })), units);
    if (options.output !== undefined) files.set(options.output, svg);
    else output = svg;
  }
  if (options.trace !== undefined) {
    const trace = mergePerfettoTraces(scenarios.map((scenario, pid) => toPerfettoTrace(scenario.result, { timeUnit: scenario.timeUnit, label: scenario.title, pid })));
    files.set(options.trace, `${JSON.stringify(trace)}\n`);
  }
  let exitCode = outcome.exitCode;
  let errorOutput = outcome.errorOutput;
  for (const scenario of scenarios) {
    if (scenario.result.stuck.length > 0) {
      errorOutput += `pipec: ${scenario.label}: ${scenario.result.stuck.length} device(s) stuck; the picture stops where they wait\n`;
      exitCode = Math.max(exitCode, 1);
    }
  }
  return { output, errorOutput, exitCode, files };
}
