// `pipec show FILE -o timeline.svg|.png|.pdf [--compare 1f1b,zb-h1,zb-v]
// [--format text] [--trace out.json] [--width PX] [--scale K]
// [--stage-numbers]`, and the same without a .pipe file (--schedule NAME -p
// -m [-v], --torch-csv FILE). Simulates the schedule(s) and draws the
// timeline: SVG (one row per device, several schedules on one time axis),
// PNG or PDF of that SVG, a compact text timeline for the terminal, or a
// Chrome/Perfetto trace. The format comes from --format, else from -o's
// extension; with neither, a terminal gets the text timeline and a pipe
// gets SVG.

import type { Command } from 'commander';
import { Option } from 'commander';
import { mergePerfettoTraces, renderTimelineSvg, renderTimelineText, toPerfettoTrace } from '../../compiler/index.ts';
import { setExitCode } from '../exitCode.ts';
import { figureFormatOf, svgToPdf, svgToPng } from '../figureFiles.ts';
import { positiveInteger, positiveNumber, useColor, writeOutput } from '../io.ts';
import { addWatchOption, watchAndRerun } from '../watch.ts';
import { addScenarioOptions, buildScenarios, scenarioInputs, type ScenarioOptions } from './simulate.ts';

export const SHOW_FORMATS = ['svg', 'png', 'pdf', 'text', 'trace'] as const;
export type ShowFormat = (typeof SHOW_FORMATS)[number];

export interface ShowCommandOptions extends ScenarioOptions {
  readonly output?: string;
  readonly compare?: string;
  /** Absent: from -o's extension, else text on a terminal and SVG otherwise. */
  readonly format?: ShowFormat;
  readonly trace?: string;
  /** Width of the whole picture in pixels (SVG, PNG, PDF), or characters per line (text). */
  readonly width?: number;
  readonly scale?: number;
  readonly stageNumbers?: boolean;
  /** Standard output is a terminal: without -o or --format, print the text timeline. */
  readonly terminal?: boolean;
  /** The terminal's width, for a text timeline printed there without --width. */
  readonly terminalColumns?: number;
  readonly watch?: boolean;
}

export interface ShowResult {
  readonly output: string;
  readonly errorOutput: string;
  readonly exitCode: number;
  readonly files: Map<string, string | Uint8Array>;
}

export function register(program: Command): void {
  const command = addScenarioOptions(
    program
      .command('show')
      .description('draw the schedule timeline: SVG, PNG or PDF (-o x.svg|x.png|x.pdf), text (--format text), Perfetto trace (--trace)')
      .addHelpText(
        'after',
        '\nWithout -o or --format, a terminal gets the text timeline and a pipe or redirect gets the SVG\n' +
          '(`pipec show FILE > x.svg` keeps working). -o picks the format from its extension (.svg, .png, .pdf,\n' +
          '.txt for text, .json for a trace); --format overrides it.',
      ),
  )
    .option('-o, --output <file>', 'write the picture here; its extension picks the format (default: standard output)')
    .option('--compare <names>', 'several schedules stacked on one time axis, e.g. 1f1b,zb-h1,zb-v')
    .addOption(new Option('--format <format>', 'picture format (default: from -o, else text on a terminal, svg piped)').choices([...SHOW_FORMATS]))
    .option('--trace <file>', 'also write a Chrome/Perfetto trace (JSON, one track per device)')
    .option('--width <px>', 'width of the whole picture in pixels (text: characters per line)', positiveInteger('--width'))
    .option('--scale <K>', 'multiply the picture size by K (2 for a sharper PNG); the drawing stays the same', positiveNumber('--scale'))
    .option('--stage-numbers', 'draw the stage number (s3) in each box, under the microbatch');
  addWatchOption(command).action(async (file: string | undefined, options: Omit<ShowCommandOptions, 'file'>) => {
    const once = async () => {
      const result = await runShow({
        ...options, file, color: useColor(options.color), terminal: process.stdout.isTTY === true,
        terminalColumns: process.stdout.isTTY ? process.stdout.columns : undefined,
      });
      if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
      setExitCode(result.exitCode);
      for (const [path, content] of result.files) {
        setExitCode(writeOutput(path, content));
        if (options.watch && path !== '-') process.stderr.write(`pipec: wrote ${path}\n`);
      }
      if (result.output !== '') process.stdout.write(result.output);
    };
    if (options.watch) await watchAndRerun(once, scenarioInputs({ ...options, file }));
    else await once();
  });
}

/** The format to write: --format, else -o's extension, else text for a terminal and SVG for a pipe. */
export function chooseShowFormat(options: Pick<ShowCommandOptions, 'format' | 'output' | 'terminal'>): { format: ShowFormat } | { error: string } {
  if (options.format !== undefined) return { format: options.format };
  if (options.output !== undefined && options.output !== '-') {
    const format = figureFormatOf(options.output);
    if (format === undefined) return { error: `pipec: cannot tell the picture format from '${options.output}': name it .svg, .png, .pdf, .txt or .json, or give --format\n` };
    return { format };
  }
  return { format: options.terminal ? 'text' : 'svg' };
}

/** The command's work without process I/O: what to print and which files to write. */
export async function runShow(options: ShowCommandOptions): Promise<ShowResult> {
  const files = new Map<string, string | Uint8Array>();
  const compare = options.compare?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (compare !== undefined && compare.length === 0) {
    return { output: '', errorOutput: 'pipec: --compare needs schedule names, e.g. --compare 1f1b,zb-h1\n', exitCode: 2, files };
  }
  const chosen = chooseShowFormat(options);
  if ('error' in chosen) return { output: '', errorOutput: chosen.error, exitCode: 2, files };
  const { format } = chosen;
  const toTerminal = options.output === undefined || options.output === '-';
  if (toTerminal && (format === 'png' || format === 'pdf') && options.terminal) {
    return { output: '', errorOutput: `pipec: ${format.toUpperCase()} is binary; write it to a file with -o timeline.${format}\n`, exitCode: 2, files };
  }
  const outcome = buildScenarios(options, compare, 'show');
  if (outcome.scenarios.length === 0) return { output: '', errorOutput: outcome.errorOutput, exitCode: Math.max(outcome.exitCode, 1), files };
  const { scenarios } = outcome;
  const units = { timeUnit: scenarios[0].timeUnit, memoryUnit: scenarios[0].memoryUnit };
  const trace = () => `${JSON.stringify(mergePerfettoTraces(scenarios.map((scenario, pid) => toPerfettoTrace(scenario.result, { timeUnit: scenario.timeUnit, label: scenario.title, pid }))))}\n`;
  let picture: string | Uint8Array;
  if (format === 'text') {
    picture = scenarios.map((scenario) => `${scenario.title}\n${renderTimelineText(scenario.result, { ...units, width: options.width ?? (toTerminal ? options.terminalColumns : undefined) })}`).join('\n');
  } else if (format === 'trace') {
    picture = trace();
  } else {
    const svg = renderTimelineSvg(
      scenarios.map((scenario) => ({ label: scenario.label, result: scenario.result })),
      { ...units, width: options.width, scale: options.scale, stageNumbers: options.stageNumbers },
    );
    picture = format === 'svg' ? svg : format === 'png' ? svgToPng(svg) : await svgToPdf(svg, scenarios.map((scenario) => scenario.title).join(' / '));
  }
  let output = '';
  if (toTerminal) {
    if (typeof picture === 'string') output = picture;
    else files.set('-', picture);
  } else {
    files.set(options.output!, picture);
  }
  if (options.trace !== undefined) files.set(options.trace, trace());
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
