// `pipec tune`: search stage count, chunks per device, placement (loop, V),
// microbatch count and schedule family for the program's cluster; reject
// what does not check or does not fit in memory; rank the rest by simulated
// time per batch.
//
// Every candidate is a real .pipe program: the pipeline declaration is
// rewritten (microbatches M; stages auto(N) balance compute placement P;
// schedule S), printed, and put through the same checker, compiler and
// simulator as a user's file. So the exact partitioner, the schedule
// validation, the deadlock proof and the memory check all apply, and the
// program written for the winner is exactly what was measured.

import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import type * as ast from '../../grammar/ast.ts';
import { printDocument } from '../../grammar/printer.ts';
import type { Span } from '../../grammar/source.ts';
import { deriveCostModel } from '../cost/costModel.ts';
import type { CostModel } from '../cost/types.ts';
import { compileProgram, type AutoScheduler } from '../lower/compile.ts';
import type { CheckedProgram } from '../program.ts';
import { builtinScheduleNames, standardSchedules } from '../schedule/builtin.ts';
import { requiredPlacement } from '../schedule/evaluate.ts';
import { simulateIr } from '../simulate/simulate.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export interface TuneConfiguration {
  readonly stages: number;
  readonly stagesPerDevice: number;
  readonly placement: 'loop' | 'v';
  readonly microbatches: number;
  /** As written in the program: `1f1b`, `auto(memory: 2 * activations(1f1b))`. */
  readonly schedule: string;
}

export interface TuneCandidate extends TuneConfiguration {
  /** Simulated time per batch (seconds under derived costs). */
  readonly makespan: number;
  readonly bubble: number;
  /** Largest peak memory of any device, bytes. */
  readonly peakMemory: number;
  /** Largest peak / capacity of any device. */
  readonly peakFraction: number;
  /** The program that was measured. */
  readonly text: string;
}

export interface TuneRejection extends TuneConfiguration {
  readonly reason: string;
}

export interface TuneRequest {
  /** The parsed entry file, its text and name. */
  readonly document: ast.Document;
  readonly text: string;
  readonly file: string;
  /** The pipeline to tune (default: the first in the file). */
  readonly pipeline?: string;
  /** Checks a rewritten entry file (the CLI injects the checker with its host). */
  readonly check: (text: string) => { readonly program?: CheckedProgram; readonly diagnostics: readonly Diagnostic[] };
  readonly autoSchedule: AutoScheduler;
  /** Cost model of a candidate (default: derived from FLOPs and links). */
  readonly costsFor?: (program: CheckedProgram) => CostModel;
  /** Search space limits. */
  readonly maxStagesPerDevice?: number;
  readonly microbatchCandidates?: readonly number[];
  readonly schedules?: readonly string[];
  /** Called after each candidate (for a progress bar). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface TuneResult {
  /** Fastest first. */
  readonly ranked: readonly TuneCandidate[];
  readonly rejected: readonly TuneRejection[];
  readonly diagnostics: readonly Diagnostic[];
}

const AUTO_SCHEDULES = ['auto(memory: 1 * activations(1f1b))', 'auto(memory: 2 * activations(1f1b))'];

export function tune(request: TuneRequest): TuneResult {
  const base = request.check(request.text);
  if (base.program === undefined) return { ranked: [], rejected: [], diagnostics: base.diagnostics };
  const program = base.program;
  const pipelineNode = findPipeline(request.document, request.pipeline);
  if (pipelineNode === undefined) throw new Error(`tune: the pipeline ${request.pipeline ?? ''} checked but is not in the entry file`);
  const configurations = searchSpace(program, request);
  const ranked: TuneCandidate[] = [];
  const rejected: TuneRejection[] = [];
  configurations.forEach((configuration, index) => {
    const outcome = evaluate(configuration, pipelineNode, request);
    if ('reason' in outcome) rejected.push(outcome);
    else ranked.push(outcome);
    request.onProgress?.(index + 1, configurations.length);
  });
  ranked.sort((a, b) => a.makespan - b.makespan || a.peakFraction - b.peakFraction || a.stages - b.stages);
  const diagnostics: Diagnostic[] = [];
  if (ranked.length === 0) {
    diagnostics.push(makeDiagnostic(diagnosticMessages.nothingFits, pipelineNode.name.span, { tried: configurations.length, reason: commonestReason(rejected) }));
  }
  return { ranked, rejected, diagnostics };
}

function commonestReason(rejected: readonly TuneRejection[]): string {
  const counts = new Map<string, number>();
  for (const rejection of rejected) counts.set(rejection.reason, (counts.get(rejection.reason) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'nothing to try';
}

function searchSpace(program: CheckedProgram, request: TuneRequest): TuneConfiguration[] {
  const { pipeline, model } = program;
  const devices = pipeline.devicesPerReplica;
  const layers = model.layers.length;
  const batch = pipeline.batch;
  const microbatchOptions = request.microbatchCandidates ??
    [...new Set([pipeline.microbatches, devices, 2 * devices, 4 * devices, 8 * devices])]
      .filter((m) => m >= 1 && m <= batch && (pipeline.remainder !== 'error' || batch % m === 0))
      .sort((a, b) => a - b);
  const maxPerDevice = request.maxStagesPerDevice ?? 4;
  const declarations = standardSchedules();
  const names = request.schedules ?? [...builtinScheduleNames(), ...AUTO_SCHEDULES];
  const configurations: TuneConfiguration[] = [];
  for (let perDevice = 1; perDevice <= maxPerDevice && devices * perDevice <= layers; perDevice++) {
    // V placement needs an even number of chunks per device (down and back up).
    const placements: ('loop' | 'v')[] = perDevice % 2 === 0 ? ['loop', 'v'] : ['loop'];
    for (const placement of placements) {
      for (const microbatches of microbatchOptions) {
        for (const schedule of names) {
          const declaration = declarations.get(schedule);
          const required = declaration ? requiredPlacement(declaration) : undefined;
          if (required !== undefined && required !== placement) continue;
          configurations.push({ stages: devices * perDevice, stagesPerDevice: perDevice, placement, microbatches, schedule });
        }
      }
    }
  }
  return configurations;
}

function evaluate(configuration: TuneConfiguration, pipelineNode: ast.PipelineDeclaration, request: TuneRequest): TuneCandidate | TuneRejection {
  const document = rewriteDocument(request.document, pipelineNode, configuration);
  const text = printDocument(document);
  const checked = request.check(text);
  const firstError = (diagnostics: readonly Diagnostic[]) => diagnostics.find((d) => d.severity === 'error');
  const checkError = firstError(checked.diagnostics);
  if (checked.program === undefined || checkError !== undefined) {
    return { ...configuration, reason: checkError ? `${checkError.code}: ${checkError.message}` : 'does not check' };
  }
  const costs = (request.costsFor ?? deriveCostModel)(checked.program);
  const compiled = compileProgram(checked.program, { costs, autoSchedule: request.autoSchedule });
  const compileError = firstError(compiled.diagnostics);
  if (compiled.ir === undefined || compileError !== undefined) {
    return { ...configuration, reason: compileError ? `${compileError.code}: ${compileError.message}` : 'does not compile' };
  }
  const result = simulateIr(compiled.ir, costs, { detail: false });
  if (result.stuck.length > 0) return { ...configuration, reason: 'the simulation got stuck' };
  let peakMemory = 0;
  let peakFraction = 0;
  result.devices.forEach((device, d) => {
    peakMemory = Math.max(peakMemory, device.memory.peak);
    const capacity = compiled.ir!.devices[d].memory.capacity;
    peakFraction = Math.max(peakFraction, capacity > 0 ? device.memory.peak / capacity : 0);
  });
  return { ...configuration, makespan: result.makespan, bubble: result.bubble, peakMemory, peakFraction, text };
}

// ───────────────────────── rewriting the pipeline ─────────────────────────

function identifier(name: string, span: Span): ast.Identifier {
  return { kind: 'Identifier', name, span };
}

function numberLiteral(value: number, span: Span): ast.NumberLiteral {
  return { kind: 'NumberLiteral', value, text: String(value), span };
}

/** `auto(memory: K * activations(1f1b))` or a plain name, as a ScheduleUse. */
function scheduleUse(text: string, span: Span): ast.ScheduleUse {
  const auto = /^auto\(memory: ([\d.]+) \* activations\((\w+)\)\)$/.exec(text);
  if (!auto) return { kind: 'ScheduleUse', name: identifier(text, span), args: [], span };
  const factor = Number(auto[1]);
  const value: ast.BinaryExpression = {
    kind: 'BinaryExpression',
    operator: '*',
    left: numberLiteral(factor, span),
    right: {
      kind: 'CallExpression',
      callee: identifier('activations', span),
      args: [{ kind: 'Argument', value: { kind: 'NameExpression', name: identifier(auto[2], span), span }, span }],
      span,
    },
    span,
  };
  return { kind: 'ScheduleUse', name: identifier('auto', span), args: [{ kind: 'Argument', name: identifier('memory', span), value, span }], span };
}

/** The document with only the pipeline's schedule replaced (`pipec show --compare`). */
export function rewriteSchedule(document: ast.Document, pipeline: ast.PipelineDeclaration, schedule: string): ast.Document {
  let replaced = false;
  const members = pipeline.members.map((member) => {
    if (member.kind !== 'ScheduleUse' || replaced) return member;
    replaced = true;
    return scheduleUse(schedule, member.span);
  });
  if (!replaced) members.push(scheduleUse(schedule, { file: pipeline.span.file, start: pipeline.span.end, end: pipeline.span.end }));
  const rewritten: ast.PipelineDeclaration = { ...pipeline, members };
  return { ...document, declarations: document.declarations.map((declaration) => (declaration === pipeline ? rewritten : declaration)) };
}

/** The pipeline declaration named `name` (or the first) in a document. */
export function findPipeline(document: ast.Document, name?: string): ast.PipelineDeclaration | undefined {
  return document.declarations.find(
    (declaration): declaration is ast.PipelineDeclaration =>
      declaration.kind === 'PipelineDeclaration' && (name === undefined || declaration.name.name === name),
  );
}

/** The document with the pipeline's microbatches, stages and schedule replaced. */
export function rewriteDocument(document: ast.Document, pipeline: ast.PipelineDeclaration, configuration: TuneConfiguration): ast.Document {
  const members: ast.PipelineMember[] = [];
  let stagesDone = false;
  let microbatchesDone = false;
  let scheduleDone = false;
  for (const member of pipeline.members) {
    if (member.kind === 'StagesBlock' || member.kind === 'AutoStages') {
      if (stagesDone) continue;
      stagesDone = true;
      const span = member.span;
      members.push({
        kind: 'AutoStages',
        count: numberLiteral(configuration.stages, span),
        balance: identifier('compute', span),
        ...(configuration.stagesPerDevice > 1 ? { placement: identifier(configuration.placement, span) } : {}),
        span,
      });
    } else if (member.kind === 'ScheduleUse') {
      if (scheduleDone) continue;
      scheduleDone = true;
      members.push(scheduleUse(configuration.schedule, member.span));
    } else if (member.kind === 'PipelineSetting' && member.key.name === 'microbatches') {
      microbatchesDone = true;
      members.push({ ...member, value: numberLiteral(configuration.microbatches, member.value.span) });
    } else if (member.kind === 'StageAttribute') {
      // recompute / offload name stages of the old split; the new split has other stages.
      continue;
    } else {
      members.push(member);
    }
  }
  const end: Span = { file: pipeline.span.file, start: pipeline.span.end, end: pipeline.span.end };
  if (!microbatchesDone) members.unshift({ kind: 'PipelineSetting', key: identifier('microbatches', end), value: numberLiteral(configuration.microbatches, end), span: end });
  if (!scheduleDone) members.push(scheduleUse(configuration.schedule, end));
  const rewritten: ast.PipelineDeclaration = { ...pipeline, members };
  return { ...document, declarations: document.declarations.map((declaration) => (declaration === pipeline ? rewritten : declaration)) };
}
