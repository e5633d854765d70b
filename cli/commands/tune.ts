// `pipec tune FILE [-o best.pipe] [--pipeline NAME] [--top N] [--format text|json]
//  [--no-recompute] [--no-offload] [--no-replicas] [--mixed-precision]`:
// search stage count, chunks per device, placement (loop, V), microbatch
// count, schedule family (the built-ins and auto), replicas × pipeline depth,
// recompute and offload for the program's cluster, drop what does not check
// or fit in memory, rank the rest by simulated time per batch, print the top
// N with bubble and peak memory and write the best as a .pipe file. When
// nothing fits, PIPE5420 names the closest configuration and what would make
// it fit. Exit 0 when something fits, 1 when nothing does (or the program has
// errors), 2 usage.

import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { describeConfiguration, formatMemory, formatPercent, formatTime, tune, type TuneCandidate, type TuneNearMiss } from '../../compiler/index.ts';
import { printDocument } from '../../grammar/index.ts';
import { compileForCommand } from '../compileForCommand.ts';
import { setExitCode } from '../exitCode.ts';
import { addFormatOptions, addMaxErrorsOption, chosenFormat, positiveInteger, useColor, writeOutput } from '../io.ts';
import { renderDiagnostics } from '../render.ts';

export interface TuneCommandOptions {
  readonly output?: string;
  readonly pipeline?: string;
  readonly top: number;
  readonly format: 'text' | 'json';
  readonly json?: boolean;
  readonly maxErrors?: number;
  readonly maxStagesPerDevice?: number;
  readonly color?: boolean;
  readonly progress?: boolean;
  /** Commander's --no-recompute / --no-offload / --no-replicas (default true). */
  readonly recompute?: boolean;
  readonly offload?: boolean;
  readonly replicas?: boolean;
  readonly mixedPrecision?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('tune')
    .description('search stages, chunks per device, placement, microbatches, schedule, replicas, recompute and offload for the fastest configuration that fits')
    .argument('<file>', '.pipe program')
    .option('-o, --output <file>', 'write the best configuration as a .pipe program')
    .option('--pipeline <name>', 'the pipeline to tune (default: the first in the file)')
    .option('--top <N>', 'how many configurations to list', positiveInteger('--top'), 10)
    .option('--max-stages-per-device <V>', 'largest number of chunks per device to try (default 4)', positiveInteger('--max-stages-per-device'))
    .option('--no-recompute', 'never add recompute (activation checkpointing) to a stage')
    .option('--no-offload', 'never offload a stage\'s activations to host memory')
    .option('--no-replicas', 'keep the program\'s replicas and pipeline depth')
    .option('--mixed-precision', 'also try bf16 mixed precision (changes the numerics; off by default)')
    .option('--no-color', 'plain output without ANSI colours');
  addMaxErrorsOption(addFormatOptions(command, ['text', 'json'], 'text'))
    .action((file: string, options: TuneCommandOptions) => {
      const result = runTune(file, { ...options, format: chosenFormat(options, 'text'), color: useColor(options.color), progress: process.stderr.isTTY === true });
      if (result.output !== '') process.stdout.write(result.output);
      if (result.errorOutput !== '') process.stderr.write(result.errorOutput);
      setExitCode(result.exitCode);
    });
}

/** The command's work; writes -o itself (the file is the product). */
export function runTune(file: string, options: TuneCommandOptions): { output: string; errorOutput: string; exitCode: number; best?: TuneCandidate } {
  // The program's own split is replaced by every candidate, so an auto split that does not fit memory is no reason to stop.
  const base = compileForCommand(file, 'tune', { pipeline: options.pipeline, color: options.color, maxErrors: options.maxErrors, until: 'check', autoStagesMemory: 'check-later' });
  if (!base.ok) return { output: '', errorOutput: base.errorOutput, exitCode: base.exitCode };
  const render = (diagnostics: Parameters<typeof renderDiagnostics>[0]) =>
    renderDiagnostics(diagnostics, base.compilation.sources, { color: options.color ?? false, format: 'text', maxErrors: options.maxErrors });
  const pipelineName = base.compilation.program!.pipeline.name;
  const bar = options.progress ? new SingleBar({ format: 'tuning [{bar}] {value}/{total} configurations', clearOnComplete: true }) : undefined;
  let started = false;
  const result = tune({
    base: base.compilation,
    maxStagesPerDevice: options.maxStagesPerDevice,
    knobs: { recompute: options.recompute ?? true, offload: options.offload ?? true, replicas: options.replicas ?? true, precision: options.mixedPrecision ?? false },
    onProgress: (done, total) => {
      if (!bar) return;
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
      if (done === total) bar.stop();
    },
  });
  if (result.ranked.length === 0) {
    const output = options.format === 'json' ? `${JSON.stringify({ pipeline: pipelineName, tried: result.tried, fits: 0, nearMiss: nearMissJson(result.nearMiss), rejectedReasons: countReasons(result.rejected.map((r) => r.reason)) }, null, 2)}\n` : '';
    return { output, errorOutput: render(result.diagnostics), exitCode: 1 };
  }

  const best = result.ranked[0];
  if (options.output !== undefined) {
    const written = writeOutput(options.output, printDocument(best.document));
    if (written !== 0) return { output: '', errorOutput: '', exitCode: written, best };
  }
  const shown = result.ranked.slice(0, options.top);
  if (options.format === 'json') {
    const json = {
      pipeline: pipelineName,
      tried: result.tried,
      fits: result.ranked.length,
      ranked: shown.map(({ document: _document, ...candidate }) => candidate),
      rejectedReasons: countReasons(result.rejected.map((r) => r.reason)),
    };
    return { output: `${JSON.stringify(json, null, 2)}\n`, errorOutput: '', exitCode: 0, best };
  }
  const current = base.compilation.program!.pipeline;
  const rows = [['#', 'replicas', 'stages', 'per device', 'placement', 'microbatches', 'schedule', 'memory', 'time/batch', 'bubble', 'peak memory', 'of capacity']];
  shown.forEach((candidate, index) => {
    rows.push([
      String(index + 1),
      String(candidate.replicas),
      String(candidate.stages),
      String(candidate.stagesPerDevice),
      candidate.stagesPerDevice === 1 ? '-' : candidate.placement,
      String(candidate.microbatches),
      candidate.schedule,
      memoryKnobs(candidate),
      formatTime(candidate.makespan, 'seconds'),
      formatPercent(candidate.bubble),
      formatMemory(candidate.peakMemory, 'bytes'),
      formatPercent(candidate.peakFraction),
    ]);
  });
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const table = rows.map((row) => row.map((cell, c) => (c === 6 || c === 7 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd());
  const devices = current.replicas * current.devicesPerReplica;
  const lines = [
    `pipeline ${pipelineName}: ${devices} devices; tried ${result.tried} configurations, ${result.ranked.length} fit`,
    '',
    ...table,
    '',
    options.output !== undefined ? `best written to ${options.output}` : 'write the best with -o best.pipe',
  ];
  return { output: `${lines.join('\n')}\n`, errorOutput: '', exitCode: 0, best };
}

/** The memory knobs a candidate turns: `recompute s0 s1`, `offload s3`, `bf16`, a split written out (the partitioner's estimate refused it), or `-`. */
function memoryKnobs(candidate: TuneCandidate): string {
  const parts = [
    ...(candidate.recompute.length > 0 ? [`recompute ${candidate.recompute.join(' ')}`] : []),
    ...(candidate.offload.length > 0 ? [`offload ${candidate.offload.join(' ')}`] : []),
    ...(candidate.precision !== 'fp32' ? [candidate.precision] : []),
    ...(candidate.stageLayers !== undefined ? ['split written out'] : []),
  ];
  return parts.length > 0 ? parts.join(', ') : '-';
}

function nearMissJson(nearMiss: TuneNearMiss | undefined): unknown {
  if (nearMiss === undefined) return null;
  return {
    closest: { ...nearMiss.closest, description: describeConfiguration(nearMiss.closest) },
    fixes: nearMiss.fixes,
    ...(nearMiss.smallestMemory === undefined ? {} : { smallestMemory: nearMiss.smallestMemory }),
  };
}

function countReasons(reasons: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const reason of reasons) {
    const code = /^PIPE\d+/.exec(reason)?.[0] ?? reason;
    counts[code] = (counts[code] ?? 0) + 1;
  }
  return counts;
}
