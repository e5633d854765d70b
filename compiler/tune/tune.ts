// `pipec tune`: search stage count, chunks per device, placement,
// microbatch count and schedule family for the program's cluster; reject
// what does not check or does not fit in memory; rank the rest by simulated
// time per batch.
//
// Every candidate is a real .pipe program: the pipeline declaration's AST is
// rewritten (microbatches M; stages auto(N) balance compute placement P;
// schedule S) by withStages and put through the same phases as a user's
// file: checker, compiler and simulator. So the exact partitioner, the
// schedule validation, the deadlock proof and the memory check all apply,
// and the program written for the winner is exactly what was measured.

import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import type * as ast from '../../grammar/ast.ts';
import { compiledDocument, simulateCompilation, withStages, type Compilation } from '../compilation.ts';
import type { CheckedProgram } from '../program.ts';
import { builtinScheduleNames, standardSchedules } from '../schedule/builtin.ts';
import { candidatePlacementKinds, placeRegular, satisfiesPlacement } from '../placement.ts';
import { requiredPlacement } from '../schedule/contract.ts';
import { findPipeline, type TuneConfiguration } from './rewrite.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export type { TuneConfiguration } from './rewrite.ts';

export interface TuneCandidate extends TuneConfiguration {
  /** Simulated time per batch (seconds under derived costs). */
  readonly makespan: number;
  readonly bubble: number;
  /** Largest peak memory of any device, bytes. */
  readonly peakMemory: number;
  /** Largest peak / capacity of any device. */
  readonly peakFraction: number;
  /** The program that was measured (print it with printDocument). */
  readonly document: ast.Document;
}

export interface TuneRejection extends TuneConfiguration {
  readonly reason: string;
}

export interface TuneRequest {
  /** The program as checked (compileFile up to 'check' or further); its costs choice applies to every candidate. */
  readonly base: Compilation;
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
  const { base } = request;
  const program = base.program;
  if (program === undefined) return { ranked: [], rejected: [], diagnostics: base.diagnostics };
  const document = compiledDocument(base);
  const pipelineNode = document === undefined ? undefined : findPipeline(document, program.pipeline.name);
  if (pipelineNode === undefined) throw new Error(`tune: the pipeline ${program.pipeline.name} checked but is not in the entry file`);
  const configurations = searchSpace(program, request);
  const ranked: TuneCandidate[] = [];
  const rejected: TuneRejection[] = [];
  configurations.forEach((configuration, index) => {
    const outcome = evaluate(configuration, base);
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
    for (const placement of candidatePlacementKinds(perDevice)) {
      const placed = placeRegular(placement, devices, perDevice);
      for (const microbatches of microbatchOptions) {
        for (const schedule of names) {
          const declaration = declarations.get(schedule);
          const required = declaration ? requiredPlacement(declaration) : undefined;
          if (required !== undefined && !satisfiesPlacement(placed, required)) continue;
          configurations.push({ stages: devices * perDevice, stagesPerDevice: perDevice, placement, microbatches, schedule });
        }
      }
    }
  }
  return configurations;
}

function evaluate(configuration: TuneConfiguration, base: Compilation): TuneCandidate | TuneRejection {
  const compiled = withStages(base, configuration);
  const error = compiled.diagnostics.find((d) => d.severity === 'error');
  if (error !== undefined) return { ...configuration, reason: `${error.code}: ${error.message}` };
  const simulated = simulateCompilation(compiled, { detail: false });
  if (simulated === undefined) return { ...configuration, reason: compiled.stop?.message ?? 'does not compile' };
  const { result } = simulated;
  if (result.stuck.length > 0) return { ...configuration, reason: 'the simulation got stuck' };
  let peakMemory = 0;
  let peakFraction = 0;
  result.devices.forEach((device, d) => {
    peakMemory = Math.max(peakMemory, device.memory.peak);
    const capacity = compiled.ir!.devices[d].memory.capacity;
    peakFraction = Math.max(peakFraction, capacity > 0 ? device.memory.peak / capacity : 0);
  });
  return { ...configuration, makespan: result.makespan, bubble: result.bubble, peakMemory, peakFraction, document: compiledDocument(compiled)! };
}

