// `pipec tune`: search every knob that keeps the training the same: stage
// count, chunks per device, placement, microbatch count, schedule family,
// data-parallel replicas × pipeline depth on the cluster's devices,
// activation recompute and offload per stage (and, opt-in, mixed
// precision); reject what does not check or does not fit in memory; rank
// the rest by simulated time per batch.
//
// Every candidate is a real .pipe program: the pipeline declaration's AST is
// rewritten (microbatches M; stages auto(N) balance compute placement P;
// schedule S; replicas R with batch G/R, so the global batch stays G;
// recompute / offload stages; precision) by withStages and put through the
// same phases as a user's file: checker, compiler and simulator. So the
// exact partitioner, the schedule validation, the deadlock proof and the
// memory check all apply, and the program written for the winner is
// exactly what was measured.
//
// The search runs in three rounds, each only where the one before left
// something to gain:
//  1. the grid of splits × microbatches × schedules × replica factorisations,
//     with no recompute or offload;
//  2. for each configuration of round 1 that overflows memory, recompute and
//     offload on the stages that overflow, then on every stage. Neither ever
//     makes a configuration faster (recompute adds a forward, offload adds
//     copies), so a configuration that already fits is never tried with
//     them: those variants are dominated.
//  3. when still nothing fits, the closest misses are repaired with one
//     knob or a pair of them (the search's own and those it may not turn:
//     knobs switched off, precision, device memory). A repair that uses
//     only allowed knobs is a candidate like any other; the rest become the
//     answer to "what would make it fit" (TuneNearMiss), each one compiled
//     and checked, never estimated.

import { hasErrors, makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import type * as ast from '../../grammar/ast.ts';
import type { Span } from '../../grammar/source.ts';
import { compiledDocument, simulateCompilation, withStages, type Compilation } from '../compilation.ts';
import type { CheckedProgram } from '../program.ts';
import { deriveCostModel } from '../cost/costModel.ts';
import { builtinScheduleNames, standardSchedules } from '../schedule/builtin.ts';
import { candidatePlacementKinds, placeRegular, satisfiesPlacement } from '../placement.ts';
import { requiredPlacement, scheduleContract } from '../schedule/contract.ts';
import type { ScheduleDeclaration } from '../../grammar/ast.ts';
import { compactNumber, formatMemory } from '../show/format.ts';
import { findPipeline, writableLayerName, type TuneConfiguration } from './rewrite.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export type { TuneConfiguration } from './rewrite.ts';

/** A configuration with every knob stated (the program's own value where tune kept it). */
export interface TunedConfiguration extends TuneConfiguration {
  readonly replicas: number;
  readonly batch: number;
  readonly recompute: readonly string[];
  readonly offload: readonly string[];
  readonly precision: 'fp32' | 'bf16' | 'fp16';
}

export interface TuneCandidate extends TunedConfiguration {
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

/** How far a configuration is over memory, by the memory check's count. */
export interface TuneMemoryOverflow {
  /** The device furthest over its capacity (peak / capacity): global index and name. */
  readonly device: number;
  readonly deviceName: string;
  readonly peakMemory: number;
  readonly capacity: number;
  /** peakMemory / capacity (> 1). */
  readonly peakFraction: number;
  /** The largest peak of any device: what devices would need to hold it. */
  readonly largestPeak: number;
  /** The stages on devices over their capacity. */
  readonly overflowingStages: readonly string[];
}

export interface TuneRejection extends TunedConfiguration {
  readonly reason: string;
  /** Present when the configuration compiles but does not fit in memory. */
  readonly memory?: TuneMemoryOverflow;
}

/** Which knobs tune may turn. Precision changes the numerics, so it is off unless asked for. */
export interface TuneKnobs {
  /** `recompute` on the stages that overflow, then on every stage (default on). */
  readonly recompute?: boolean;
  /** `offload` likewise, where the cluster links its devices to host memory (default on). */
  readonly offload?: boolean;
  /** Every data-parallel × pipeline factorisation of the cluster's compute devices (default on). */
  readonly replicas?: boolean;
  /** Also bf16 mixed precision for an fp32 program (default off: it changes the numerics). */
  readonly precision?: boolean;
}

export type TuneKnob = 'recompute' | 'offload' | 'replicas' | 'microbatches' | 'precision' | 'memory';

/** One change to the closest miss that makes it fit, compiled and checked. */
export interface TuneFix {
  /** The knobs it turns (one, or a pair). */
  readonly knobs: readonly TuneKnob[];
  /** What it changes, in words: `recompute on s0`, `replicas 1 × pipeline 8`, `devices with 17.2 GiB`. */
  readonly change: string;
  readonly configuration: TunedConfiguration;
  /** Its largest device peak, bytes, and the device memory it was checked against. */
  readonly peakMemory: number;
  readonly capacity: number;
}

export interface TuneNearMiss {
  /** The configuration closest to fitting (smallest peak / capacity). */
  readonly closest: TuneRejection & { readonly memory: TuneMemoryOverflow };
  /** Changes that make it fit, fewest knobs first; empty when none does. */
  readonly fixes: readonly TuneFix[];
  /**
   * The smallest device memory under which some tried configuration fits
   * (checked by compiling it on such devices); absent when the cluster is
   * imported, so tune cannot rewrite it.
   */
  readonly smallestMemory?: { readonly bytes: number; readonly configuration: TunedConfiguration };
}

export interface TuneRequest {
  /** The program as checked (compileFile up to 'check' or further); its costs choice applies to every candidate. */
  readonly base: Compilation;
  /** Search space limits. */
  readonly maxStagesPerDevice?: number;
  readonly microbatchCandidates?: readonly number[];
  readonly schedules?: readonly string[];
  readonly knobs?: TuneKnobs;
  /** Called after each candidate (for a progress bar); `total` grows as rounds 2 and 3 add work. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface TuneResult {
  /** Fastest first. */
  readonly ranked: readonly TuneCandidate[];
  readonly rejected: readonly TuneRejection[];
  /** Every configuration compiled, all rounds. */
  readonly tried: number;
  /** Only when nothing fits and some configuration failed on memory alone. */
  readonly nearMiss?: TuneNearMiss;
  readonly diagnostics: readonly Diagnostic[];
}

const AUTO_SCHEDULES = ['auto(memory: 1 * activations(1f1b))', 'auto(memory: 2 * activations(1f1b))'];
/** How many of the closest misses each round of repair tries. */
const REPAIRED_MISSES = 3;

interface Knobs {
  readonly recompute: boolean;
  readonly offload: boolean;
  readonly replicas: boolean;
  readonly precision: boolean;
}

/** What a tune session knows about the program, shared by every round. */
interface Session {
  readonly base: Compilation;
  readonly request: TuneRequest;
  readonly program: CheckedProgram;
  readonly knobs: Knobs;
  /** Whether the cluster links the pipeline's devices to host memory (offload has somewhere to go). */
  readonly hostMemory: boolean;
  /** The program's global batch: replicas × batch. */
  readonly globalBatch: number;
  readonly compiled: Map<string, TuneCandidate | TuneRejection>;
  /** Auto-scheduled configurations whose split did not fit memory and whose overflow was not read (overflowOf). */
  readonly unreadPartitions: Set<string>;
  readonly ranked: TuneCandidate[];
  readonly rejected: TuneRejection[];
  total: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export function tune(request: TuneRequest): TuneResult {
  const { base } = request;
  const program = base.program;
  if (program === undefined) return { ranked: [], rejected: [], tried: 0, diagnostics: base.diagnostics };
  const document = compiledDocument(base);
  const pipelineNode = document === undefined ? undefined : findPipeline(document, program.pipeline.name);
  if (pipelineNode === undefined) throw new Error(`tune: the pipeline ${program.pipeline.name} checked but is not in the entry file`);
  // A new split has other stages, so `frozen s0` cannot be carried over;
  // dropping it would silently train what the user froze.
  const frozenStages = pipelineNode.members.find((member): member is ast.StageAttribute => member.kind === 'StageAttribute' && member.attribute === 'frozen');
  if (frozenStages !== undefined) {
    return { ranked: [], rejected: [], tried: 0, diagnostics: [makeDiagnostic(diagnosticMessages.tuneFrozenStages, frozenStages.span, { stages: frozenStages.stages.map((stage) => stage.name).join(', ') })] };
  }
  const knobs: Knobs = {
    recompute: request.knobs?.recompute ?? true,
    offload: request.knobs?.offload ?? true,
    replicas: request.knobs?.replicas ?? true,
    precision: request.knobs?.precision ?? false,
  };
  const session: Session = {
    base, request, program, knobs, hostMemory: linksToHostMemory(base), globalBatch: program.pipeline.replicas * program.pipeline.batch,
    compiled: new Map(), unreadPartitions: new Set(), ranked: [], rejected: [], total: 0, onProgress: request.onProgress,
  };

  // Round 1: the grid.
  const grid = searchSpace(program, request, knobs);
  session.total = grid.length;
  const overMemory = grid.filter((configuration) => failsOnMemory(session, evaluateOnce(session, configuration)));

  // Round 2: recompute and offload where memory overflows, on the stages
  // that overflow under this schedule or, where that was not read (auto),
  // under the other schedules of the same split.
  const overflowingBySplit = new Map<string, Map<string, readonly string[]>>();
  for (const configuration of overMemory) {
    const outcome = session.compiled.get(configurationKey(configuration))!;
    if (!isMemoryMiss(outcome)) continue;
    const key = splitKey(configuration);
    const sets = overflowingBySplit.get(key) ?? new Map<string, readonly string[]>();
    sets.set(outcome.memory.overflowingStages.join(' '), outcome.memory.overflowingStages);
    overflowingBySplit.set(key, sets);
  }
  const variants = overMemory.flatMap((configuration) => {
    const outcome = session.compiled.get(configurationKey(configuration))!;
    const overflowing = isMemoryMiss(outcome) ? [outcome.memory.overflowingStages] : [...(overflowingBySplit.get(splitKey(configuration))?.values() ?? [])];
    return memoryVariants(session, configuration, overflowing, knobs);
  });
  session.total += variants.reduce((sum, group) => sum + group.length, 0);
  for (const group of variants) {
    for (const configuration of group) {
      // Once one fits (or fails for another reason than memory), the leaner ones after it are dominated.
      if (!failsOnMemory(session, evaluateOnce(session, configuration))) break;
    }
  }

  // Round 3: repair the closest misses.
  let nearMiss: TuneNearMiss | undefined;
  if (session.ranked.length === 0) nearMiss = repairClosest(session);

  const ranked = [...session.ranked].sort((a, b) => a.makespan - b.makespan || a.peakFraction - b.peakFraction || a.stages - b.stages);
  const diagnostics: Diagnostic[] = [];
  if (ranked.length === 0) {
    diagnostics.push(nearMiss !== undefined
      ? nearMissDiagnostic(session, nearMiss, pipelineNode)
      : makeDiagnostic(diagnosticMessages.nothingFits, pipelineNode.name.span, { tried: session.compiled.size, reason: commonestReason(session.rejected) }));
  }
  return { ranked, rejected: session.rejected, tried: session.compiled.size, ...(nearMiss === undefined || ranked.length > 0 ? {} : { nearMiss }), diagnostics };
}

function commonestReason(rejected: readonly TuneRejection[]): string {
  const counts = new Map<string, number>();
  for (const rejection of rejected) counts.set(rejection.reason, (counts.get(rejection.reason) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'nothing to try';
}

/**
 * Whether offload has somewhere to go: the cost model times copies only
 * over a link from a pipeline device to host memory, and without one they
 * would look free.
 */
function linksToHostMemory(base: Compilation): boolean {
  return deriveCostModel(base.program!).hostBandwidth !== undefined;
}

/** Every way to split the compute devices into replicas × pipeline ranks, the program's own first. */
function factorisations(program: CheckedProgram, knobs: Knobs, globalBatch: number): { replicas: number; ranks: number }[] {
  const own = { replicas: program.pipeline.replicas, ranks: program.pipeline.devicesPerReplica };
  if (!knobs.replicas) return [own];
  const devices = program.cluster.devices.filter((device) => device.flopsPerSecond > 0).length;
  const all = [own];
  for (let replicas = 1; replicas <= devices; replicas++) {
    if (devices % replicas !== 0 || globalBatch % replicas !== 0) continue;
    if (replicas === own.replicas && devices / replicas === own.ranks) continue;
    all.push({ replicas, ranks: devices / replicas });
  }
  return all;
}

function microbatchOptions(program: CheckedProgram, request: TuneRequest, ranks: number, batch: number): number[] {
  const { pipeline } = program;
  const sameRows = (pipeline.microbatches * batch) / pipeline.batch;
  return (request.microbatchCandidates ?? [...new Set([pipeline.microbatches, sameRows, ranks, 2 * ranks, 4 * ranks, 8 * ranks])])
    .filter((m) => Number.isInteger(m) && m >= 1 && m <= batch && (pipeline.remainder !== 'error' || batch % m === 0))
    .sort((a, b) => a - b);
}

function searchSpace(program: CheckedProgram, request: TuneRequest, knobs: Knobs): TunedConfiguration[] {
  const { pipeline, model } = program;
  const layers = model.layers.length;
  const globalBatch = pipeline.replicas * pipeline.batch;
  const maxPerDevice = request.maxStagesPerDevice ?? 4;
  const declarations = standardSchedules();
  const names = request.schedules ?? [...builtinScheduleNames(), ...AUTO_SCHEDULES];
  const precisions: TunedConfiguration['precision'][] = knobs.precision && pipeline.precision === 'fp32' ? ['fp32', 'bf16'] : [pipeline.precision];
  const configurations: TunedConfiguration[] = [];
  for (const { replicas, ranks } of factorisations(program, knobs, globalBatch)) {
    const batch = globalBatch / replicas;
    for (let perDevice = 1; perDevice <= maxPerDevice && ranks * perDevice <= layers; perDevice++) {
      for (const placement of candidatePlacementKinds(perDevice)) {
        const placed = placeRegular(placement, ranks, perDevice);
        for (const microbatches of microbatchOptions(program, request, ranks, batch)) {
          for (const schedule of names) {
            const declaration = declarations.get(schedule);
            const required = declaration ? requiredPlacement(declaration) : undefined;
            if (required !== undefined && !satisfiesPlacement(placed, required)) continue;
            if (!runsVocabShards(schedule, declaration, pipeline.vocabParallel !== undefined)) continue;
            for (const precision of precisions) {
              configurations.push({ stages: ranks * perDevice, stagesPerDevice: perDevice, placement, microbatches, schedule, replicas, batch, recompute: [], offload: [], precision });
            }
          }
        }
      }
    }
  }
  return configurations;
}

/**
 * Whether a schedule can run this pipeline's vocabulary shards, or their
 * absence: one that `requires vocab parallel` needs them; with them, an
 * explicit order must be written for them and auto plans none.
 */
function runsVocabShards(name: string, declaration: ScheduleDeclaration | undefined, vocabParallel: boolean): boolean {
  if (name.startsWith('auto')) return !vocabParallel;
  if (declaration === undefined) return true;
  if (scheduleContract(declaration).vocabParallel !== undefined) return vocabParallel;
  return !vocabParallel || !declaration.body.some((statement) => statement.kind === 'OnDeviceBlock');
}

const stageNames = (configuration: TuneConfiguration) => Array.from({ length: configuration.stages }, (_, s) => `s${s}`);
const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])].sort((x, y) => Number(x.slice(1)) - Number(y.slice(1)));

/**
 * Round 2's variants of a miss, in groups tried leanest-last: once one of a
 * group fits, the leaner ones after it are dominated (slower, same fit).
 */
function memoryVariants(session: Session, miss: TunedConfiguration, overflowing: readonly (readonly string[])[], knobs: Knobs): TunedConfiguration[][] {
  const groups: TunedConfiguration[][] = [];
  const all = stageNames(miss);
  // The stage sets that overflow, fewest stages first, then every stage.
  const sets = [...overflowing].sort((a, b) => a.length - b.length).filter((set) => set.length < all.length);
  const spread = (attribute: 'recompute' | 'offload') => [...sets, all].map((stages) => withoutOutcome({ ...miss, [attribute]: stages }));
  // More, smaller microbatches past the grid's largest count cost no extra work, only bubble and per-step overhead.
  const more = miss.microbatches * 2;
  const largest = Math.max(...microbatchOptions(session.program, session.request, miss.stages / miss.stagesPerDevice, miss.batch));
  if (miss.microbatches === largest && more <= miss.batch && (session.program.pipeline.remainder !== 'error' || miss.batch % more === 0)) {
    groups.push([withoutOutcome({ ...miss, microbatches: more })]);
  }
  if (knobs.recompute) groups.push(spread('recompute'));
  if (knobs.offload && session.hostMemory) groups.push(spread('offload'));
  return groups;
}

function withoutOutcome(configuration: TunedConfiguration): TunedConfiguration {
  const { stages, stagesPerDevice, placement, microbatches, schedule, replicas, batch, recompute, offload, precision, stageLayers } = configuration;
  return { stages, stagesPerDevice, placement, microbatches, schedule, replicas, batch, recompute, offload, precision, ...(stageLayers === undefined ? {} : { stageLayers }) };
}

function isMemoryMiss(outcome: TuneCandidate | TuneRejection): outcome is TuneRejection & { memory: TuneMemoryOverflow } {
  return 'reason' in outcome && outcome.memory !== undefined;
}

function configurationKey(configuration: TunedConfiguration): string {
  return JSON.stringify(withoutOutcome(configuration));
}

/** The configuration without its schedule: what the partitioner sees. */
function splitKey(configuration: TunedConfiguration): string {
  const { schedule: _schedule, ...split } = withoutOutcome(configuration);
  return JSON.stringify(split);
}

const isAutoSchedule = (configuration: TuneConfiguration) => configuration.schedule.startsWith('auto');

/** Over memory: read from the memory check, or an auto schedule whose split the partitioner could not fit (not read: see overflowOf). */
function failsOnMemory(session: Session, outcome: TuneCandidate | TuneRejection): boolean {
  return isMemoryMiss(outcome) || ('reason' in outcome && session.unreadPartitions.has(configurationKey(outcome)));
}

/** Compile (once) and record a configuration of the search. */
function evaluateOnce(session: Session, configuration: TunedConfiguration): TuneCandidate | TuneRejection {
  const key = configurationKey(configuration);
  const known = session.compiled.get(key);
  if (known !== undefined) return known;
  const outcome = evaluate(session, configuration);
  session.compiled.set(key, outcome);
  if ('reason' in outcome) session.rejected.push(outcome);
  else session.ranked.push(outcome);
  session.onProgress?.(session.compiled.size, Math.max(session.total, session.compiled.size));
  return outcome;
}

function evaluate(session: Session, asGiven: TunedConfiguration, memoryFloor?: number): TuneCandidate | TuneRejection {
  // A repair spreads a rejection: drop what its outcome said.
  const configuration = withoutOutcome(asGiven);
  // Candidates split within memory whatever the base asked for (the CLI checks the base with 'check-later').
  const compiled = withStages(session.base, configuration, { memoryFloor, autoStagesMemory: 'fit' });
  const error = compiled.diagnostics.find((d) => d.severity === 'error');
  if (error !== undefined) {
    const rejection = { ...configuration, reason: `${error.code}: ${error.message}` };
    const unfitted = splitForComputeAlone(session, configuration, compiled, memoryFloor);
    if (unfitted !== undefined && !hasErrors(unfitted.diagnostics)) {
      // The partitioner's estimate refused every split, but the memory check accepts the balanced one: write it out.
      const stageLayers = writtenSplit(unfitted);
      if (stageLayers !== undefined) return evaluate(session, { ...configuration, stageLayers }, memoryFloor);
    }
    const memory = memoryFloor !== undefined ? undefined
      : compiled.ir !== undefined && onlyErrors(compiled, diagnosticMessages.outOfMemory.code) ? overflowFromIr(session, compiled)
        : unfitted?.ir !== undefined && onlyErrors(unfitted, diagnosticMessages.outOfMemory.code) ? overflowFromIr(session, unfitted) : undefined;
    return memory === undefined ? rejection : { ...rejection, memory };
  }
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
  if (peakFraction > 1) {
    // The memory check frees an offloaded stash at once; in time, the copy to the host must finish first.
    const memory = memoryFloor === undefined ? overflowFromPeaks(session, compiled, result.devices.map((device) => device.memory.peak)) : undefined;
    const reason = `the simulated peak, ${formatMemory(peakMemory, 'bytes')}, exceeds a device's memory (offload copies finish too late)`;
    return memory === undefined ? { ...configuration, reason } : { ...configuration, reason, memory };
  }
  return { ...configuration, makespan: result.makespan, bubble: result.bubble, peakMemory, peakFraction, document: compiledDocument(compiled)! };
}

const onlyErrors = (compiled: Compilation, code: string) => compiled.diagnostics.every((d) => d.severity !== 'error' || d.code === code);

/**
 * When the partitioner found no split within memory (PIPE3015 alone), the
 * same configuration split for compute alone and put through the memory
 * check: it says by how much it is over, or that it fits after all (the
 * partitioner's estimate counts 1F1B's activations in flight, every tensor
 * once per layer). Not for `auto` schedules: their search costs more than
 * every other schedule together, and round 2 takes the overflowing stages
 * of their split from the other schedules.
 */
function splitForComputeAlone(session: Session, configuration: TunedConfiguration, compiled: Compilation, memoryFloor: number | undefined): Compilation | undefined {
  if (configuration.stageLayers !== undefined || !onlyErrors(compiled, diagnosticMessages.autoPartition.code)) return undefined;
  if (isAutoSchedule(configuration)) {
    if (memoryFloor === undefined) session.unreadPartitions.add(configurationKey(configuration));
    return undefined;
  }
  return withStages(session.base, configuration, { memoryFloor, autoStagesMemory: 'check-later' });
}

/** The stages of a compiled split as layer names, when every name can be written in a stages block. */
function writtenSplit(compiled: Compilation): string[][] | undefined {
  const program = compiled.program!;
  const names = program.pipeline.stages.map((stage) => stage.layers.map((layer) => program.model.layers[layer].name));
  return names.every((layers) => layers.every(writableLayerName)) ? names : undefined;
}

function overflowFromIr(session: Session, compiled: Compilation): TuneMemoryOverflow | undefined {
  return overflowFromPeaks(session, compiled, compiled.ir!.devices.map((device) => device.memory.peak));
}

/** The overflow of per-device peaks (in the IR's device order) against the program's real capacities. */
function overflowFromPeaks(session: Session, compiled: Compilation, peaks: readonly number[]): TuneMemoryOverflow | undefined {
  const cluster = session.program.cluster;
  let worst: TuneMemoryOverflow | undefined;
  let largestPeak = 0;
  const overRanks = new Set<number>();
  compiled.ir!.devices.forEach((device, d) => {
    const peak = peaks[d];
    const capacity = cluster.devices[device.index]?.memoryBytes ?? 0;
    largestPeak = Math.max(largestPeak, peak);
    if (capacity <= 0 || peak <= capacity) return;
    overRanks.add(device.rank);
    const peakFraction = peak / capacity;
    if (worst === undefined || peakFraction > worst.peakFraction) {
      worst = { device: device.index, deviceName: device.name, peakMemory: peak, capacity, peakFraction, largestPeak: 0, overflowingStages: [] };
    }
  });
  if (worst === undefined) return undefined;
  const overflowingStages = compiled.program!.pipeline.stages.filter((stage) => overRanks.has(stage.device)).map((stage) => stage.name);
  return { ...worst, largestPeak, overflowingStages };
}

// ───────────────────── round 3: what would make it fit ─────────────────────

interface Repair {
  readonly knob: TuneKnob;
  readonly change: string;
  readonly apply: (configuration: TunedConfiguration) => TunedConfiguration | undefined;
  /** Whether the search may turn this knob itself (a fitting repair is then a candidate). */
  readonly allowed: boolean;
}

function repairs(session: Session, miss: TuneRejection & { memory: TuneMemoryOverflow }): Repair[] {
  const { knobs, program } = session;
  const over = miss.memory.overflowingStages;
  const list: Repair[] = [];
  const attribute = (knob: 'recompute' | 'offload', allowed: boolean) => {
    const added = over.filter((stage) => !miss[knob].includes(stage));
    if (added.length === 0) return;
    list.push({ knob, change: `${knob} on ${added.join(', ')}`, allowed, apply: (c) => ({ ...c, [knob]: union(c[knob], over) }) });
  };
  attribute('recompute', knobs.recompute);
  if (session.hostMemory) attribute('offload', knobs.offload);
  const doubled = miss.microbatches * 2;
  if (doubled <= miss.batch && (program.pipeline.remainder !== 'error' || miss.batch % doubled === 0)) {
    list.push({ knob: 'microbatches', change: `microbatches ${doubled}`, allowed: true, apply: (c) => ({ ...c, microbatches: c.microbatches * 2 }) });
  }
  for (const { replicas, ranks } of factorisations(program, { ...knobs, replicas: true }, session.globalBatch)) {
    if (replicas === miss.replicas) continue;
    const stages = ranks * miss.stagesPerDevice;
    if (stages > program.model.layers.length) continue;
    list.push({
      knob: 'replicas', change: `replicas ${replicas} × pipeline ${ranks}`, allowed: knobs.replicas,
      apply: (c) => {
        const batch = session.globalBatch / replicas;
        const microbatches = Math.min(c.microbatches, batch);
        // The other split names other stages; the attributes carry over by position where they can.
        const keep = (names: readonly string[]) => names.filter((name) => Number(name.slice(1)) < stages);
        return { ...c, replicas, batch, stages, microbatches, recompute: keep(c.recompute), offload: keep(c.offload) };
      },
    });
  }
  if (miss.precision === 'fp32') list.push({ knob: 'precision', change: 'precision bf16 (changes the numerics)', allowed: knobs.precision, apply: (c) => ({ ...c, precision: 'bf16' }) });
  return list;
}

/** Rounds of repair: a repair that misses by less than the closest becomes the next round's closest. */
const REPAIR_ROUNDS = 3;

function repairClosest(session: Session): TuneNearMiss | undefined {
  let nearMiss: TuneNearMiss | undefined;
  for (let round = 0; round < REPAIR_ROUNDS; round++) {
    const closest = closestMiss(session);
    if (closest === undefined || closest === nearMiss?.closest) break;
    nearMiss = repairMisses(session, closest);
    if (nearMiss === undefined) return undefined; // something fits now
    if (closestMiss(session) === closest) break;
  }
  if (nearMiss === undefined) return undefined;
  const least = smallestMemory(session, nearMiss.closest);
  const fixes = [...nearMiss.fixes];
  if (least !== undefined) {
    fixes.push({
      knobs: ['memory'], change: `devices with ${distinctMemory(least.capacity, nearMiss.closest.memory.capacity)} (${describeConfiguration(least.configuration)})`,
      configuration: least.configuration, peakMemory: least.peakMemory, capacity: least.capacity,
    });
  }
  return {
    closest: nearMiss.closest,
    fixes: fixes.sort((a, b) => a.knobs.length - b.knobs.length),
    ...(least === undefined ? {} : { smallestMemory: { bytes: least.capacity, configuration: least.configuration } }),
  };
}

function closestMiss(session: Session): (TuneRejection & { memory: TuneMemoryOverflow }) | undefined {
  let closest: (TuneRejection & { memory: TuneMemoryOverflow }) | undefined;
  for (const rejection of session.rejected) {
    if (isMemoryMiss(rejection) && (closest === undefined || rejection.memory.peakFraction < closest.memory.peakFraction)) closest = rejection;
  }
  return closest;
}

/** One round: the closest misses with one knob or a pair turned; what fits with knobs tune may not turn becomes a fix of `closest`. */
function repairMisses(session: Session, closest: TuneRejection & { memory: TuneMemoryOverflow }): TuneNearMiss | undefined {
  const misses = [closest, ...session.rejected.filter((r) => isMemoryMiss(r) && r !== closest).sort((a, b) => a.memory!.peakFraction - b.memory!.peakFraction)] as (TuneRejection & { memory: TuneMemoryOverflow })[];
  const fixes: TuneFix[] = [];
  for (const miss of misses.slice(0, REPAIRED_MISSES)) {
    const singles = repairs(session, miss);
    const attempts: { repairs: Repair[]; configuration: TunedConfiguration }[] = [];
    for (const repair of singles) {
      const configuration = repair.apply(miss);
      if (configuration !== undefined) attempts.push({ repairs: [repair], configuration });
    }
    for (let i = 0; i < singles.length; i++) {
      for (let j = i + 1; j < singles.length; j++) {
        if (singles[i].knob === singles[j].knob) continue;
        const once = singles[i].apply(miss);
        const twice = once === undefined ? undefined : singles[j].apply(once);
        if (twice !== undefined) attempts.push({ repairs: [singles[i], singles[j]], configuration: twice });
      }
    }
    session.total += attempts.length;
    const fitted = new Set<string>();
    for (const attempt of attempts) {
      // A pair whose one knob already fits alone says nothing new.
      if (attempt.repairs.length > 1 && attempt.repairs.some((repair) => fitted.has(repair.change))) continue;
      const outcome = attempt.repairs.every((repair) => repair.allowed)
        ? evaluateOnce(session, attempt.configuration)
        : evaluateOutsideSearch(session, attempt.configuration);
      if ('reason' in outcome) continue;
      if (attempt.repairs.length === 1) fitted.add(attempt.repairs[0].change);
      if (attempt.repairs.every((repair) => repair.allowed)) continue; // a candidate now, ranked with the rest
      if (miss !== closest) continue;
      fixes.push({
        knobs: attempt.repairs.map((repair) => repair.knob),
        change: attempt.repairs.map((repair) => repair.change).join(' and '),
        configuration: withoutOutcome(outcome),
        peakMemory: outcome.peakMemory,
        capacity: closest.memory.capacity,
      });
    }
  }
  if (session.ranked.length > 0) return undefined;
  return { closest, fixes };
}

/** A configuration tune may not adopt itself (a knob switched off, precision): compiled to see whether it fits, not ranked. */
function evaluateOutsideSearch(session: Session, configuration: TunedConfiguration, memoryFloor?: number): TuneCandidate | TuneRejection {
  session.onProgress?.(session.compiled.size, Math.max(session.total, session.compiled.size));
  return evaluate(session, configuration, memoryFloor);
}

/**
 * Steps up from a configuration's own peak to the device memory tried for
 * it: the partitioner's estimate of a split (1F1B's activations in flight)
 * can ask for more than the schedule then uses, so the peak alone may not
 * pass it.
 */
const MEMORY_STEPS = [1, 1.05, 1.25, 1.5, 2];

/**
 * The least device memory of MEMORY_STEPS × `bytes` on which the
 * configuration compiles and fits, checked by compiling it there.
 */
function fitsWithMemory(session: Session, configuration: TunedConfiguration, bytes: number): { capacity: number; peakMemory: number; configuration: TunedConfiguration } | undefined {
  for (const step of MEMORY_STEPS) {
    // Whole KiB, so the claim reads as a size someone could declare.
    const capacity = Math.ceil((bytes * step) / 1024) * 1024;
    const outcome = evaluateOutsideSearch(session, configuration, capacity);
    // The configuration as it fitted: with its split written out when the partitioner refused it.
    if (!('reason' in outcome)) return { capacity, peakMemory: outcome.peakMemory, configuration: withoutOutcome(outcome) };
  }
  return undefined;
}

/**
 * The least device memory under which some miss fits: the closest one and
 * those that need the least memory at their peak, each compiled on such
 * devices.
 */
function smallestMemory(session: Session, closest: TuneRejection & { memory: TuneMemoryOverflow }): { capacity: number; peakMemory: number; configuration: TunedConfiguration } | undefined {
  const byPeak = session.rejected.filter(isMemoryMiss).sort((a, b) => a.memory.largestPeak - b.memory.largestPeak);
  let least: { capacity: number; peakMemory: number; configuration: TunedConfiguration } | undefined;
  for (const miss of [...new Set([closest, ...byPeak.slice(0, REPAIRED_MISSES)])]) {
    const fitted = fitsWithMemory(session, miss, miss.memory.largestPeak);
    if (fitted !== undefined && (least === undefined || fitted.capacity < least.capacity)) least = fitted;
  }
  return least;
}

/** `1f1b, 4 stages, m=8`, with the knobs the configuration turns. */
export function describeConfiguration(configuration: TunedConfiguration): string {
  const parts = [configuration.schedule, `${configuration.stages} stages${configuration.stagesPerDevice > 1 ? ` (${configuration.placement}, ${configuration.stagesPerDevice} per device)` : ''}`, `m=${configuration.microbatches}`];
  if (configuration.replicas > 1) parts.push(`${configuration.replicas} replicas`);
  if (configuration.recompute.length > 0) parts.push(`recompute ${configuration.recompute.join(' ')}`);
  if (configuration.offload.length > 0) parts.push(`offload ${configuration.offload.join(' ')}`);
  if (configuration.precision !== 'fp32') parts.push(configuration.precision);
  if (configuration.stageLayers !== undefined) parts.push('split written out');
  return parts.join(', ');
}

/** The near miss as a diagnostic at the memory declaration of the device furthest over. */
function nearMissDiagnostic(session: Session, nearMiss: TuneNearMiss, pipelineNode: ast.PipelineDeclaration): Diagnostic {
  const { closest, fixes } = nearMiss;
  const { memory } = closest;
  const device = session.program.cluster.devices[memory.device];
  const span = memorySpan(session, device.span) ?? device.span;
  const args = {
    tried: session.compiled.size,
    capacity: formatMemory(memory.capacity, 'bytes'),
    closest: describeConfiguration(closest),
    peak: distinctMemory(memory.peakMemory, memory.capacity),
    device: memory.deviceName,
    over: formatMemory(memory.peakMemory - memory.capacity, 'bytes'),
  };
  const hint = fixes.length > 0
    ? `it would fit with: ${fixes.map((fix) => (fix.knobs.includes('memory') ? fix.change : `${fix.change} (peak ${formatMemory(fix.peakMemory, 'bytes')})`)).join('; or ')}`
    : 'no knob tune can turn makes it fit, and no device memory it tried does either';
  return makeDiagnostic(diagnosticMessages.tuneNearMiss, span, args, {
    hint,
    related: [{ span: pipelineNode.name.span, message: 'the pipeline tuned' }],
  });
}

/** `bytes` with enough decimals to read differently from `reference` (48.03 MiB against 48 MiB). */
export function distinctMemory(bytes: number, reference: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const index = Math.min(units.length - 1, Math.max(0, Math.floor(Math.log2(Math.max(1, bytes)) / 10)));
  const scale = 1024 ** index;
  for (let digits = 1; digits < 4; digits++) {
    if ((bytes / scale).toFixed(digits) !== (reference / scale).toFixed(digits)) return `${compactNumber(bytes / scale, digits)} ${units[index]}`;
  }
  return `${compactNumber(bytes / scale, 4)} ${units[index]}`;
}

/** The span of the `memory` property of the device declaration at `deviceSpan`, when the declaration is in a source tune read. */
function memorySpan(session: Session, deviceSpan: Span): Span | undefined {
  for (const { document } of session.base.parsed?.loaded.documents ?? []) {
    for (const declaration of document.declarations) {
      if (declaration.kind !== 'ClusterDeclaration') continue;
      for (const member of declaration.members) {
        if (member.kind !== 'DeviceDeclaration' || member.span.file !== deviceSpan.file || member.span.start !== deviceSpan.start) continue;
        return member.properties.find((property) => property.key.name === 'memory')?.span ?? member.span;
      }
    }
  }
  return undefined;
}
