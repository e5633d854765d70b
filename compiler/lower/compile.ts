// compileProgram: checked program → IR. The schedule the pipeline names is
// evaluated (or, for `auto`, produced by the automatic scheduler), its order
// validated, lowered to per-device instruction streams (replicated per
// data-parallel replica, with an allreduce of each stage's gradients before
// its optimizer step), its memory checked against each device's capacity,
// and the streams proven free of deadlock.

import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import type { Span } from '../../grammar/source.ts';
import type { CostModel } from '../cost/types.ts';
import { IR_VERSION, type Instruction, type IrDevice, type IrLayer, type IrProgram } from '../ir/types.ts';
import type { CheckedLayer, CheckedProgram, CheckedStage, CheckedTensor, TensorShape } from '../program.ts';
import { formatTime } from '../show/format.ts';
import { autoSchedule, autoScheduleWithReport, type AutoScheduleRequest } from '../autoschedule/autoSchedule.ts';
import { EXACT_MAX_ACTIONS } from '../autoschedule/exact.ts';
import { autoScheduleWithMemoryActions, summariseMemoryPlan, type MemoryPlanSummary } from '../autoschedule/memoryActions.ts';
import { isZigZag } from '../placement.ts';
import { relocateDiagnostic } from '../schedule/contract.ts';
import { isStandardLibrary } from '../stdlib/index.ts';
import { standardSchedules } from '../schedule/builtin.ts';
import { describeCommsDeadlock, describeDeadlock, proveCommsOrderDeadlockFree, proveDeadlockFree } from '../schedule/deadlock.ts';
import type { CommsProblem } from '../schedule/commsExecution.ts';
import type { CommsOrder } from './commsOrder.ts';
import { evaluateSchedule } from '../schedule/evaluate.ts';
import { peakActivationBytes, peakActivations, type StageMemoryOptions } from '../schedule/memory.ts';
import type { ComputeSchedule, PipelineShape } from '../schedule/types.ts';
import { problemsToDiagnostics, validateSchedule } from '../schedule/validate.ts';
import { lowerToInstructionStreams, type StageLoweringInfo } from './lower.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import { bytesPerParameter } from '../check/settings.ts';

export interface CompileOptions {
  /**
   * Costs for the list scheduler and the automatic scheduler. When absent,
   * the model derived from the program's FLOPs, devices and links, the same
   * default every command uses, so what is trained is what was simulated.
   */
  readonly costs?: CostModel;
  /** The automatic scheduler for `schedule auto` (default: compiler/autoschedule's). */
  readonly autoSchedule?: AutoScheduler;
}

export type AutoScheduler = (request: { readonly shape: PipelineShape; readonly costs: CostModel; readonly memoryLimit: readonly number[] }) => ComputeSchedule;

/** The pipeline's shape as the schedulers see it: ranks, stages, microbatches, stage → rank. */
export function pipelineShape(program: CheckedProgram): PipelineShape {
  const { pipeline } = program;
  // A mirrored placement's stages list both copies; each copy runs its share of the microbatches.
  const copies = pipeline.placement.copies.length;
  const vocabShards = pipeline.vocabParallel?.shards ?? 0;
  return {
    devices: pipeline.devicesPerReplica,
    stages: pipeline.stages.length,
    microbatches: pipeline.microbatches / copies,
    stageDevice: pipeline.stages.map((stage) => stage.device),
    ...(copies > 1 ? { copies } : {}),
    ...(vocabShards > 0 ? { vocabShards } : {}),
    ...forwardOnlyStagesOf(pipeline.stages),
  };
}

/** The frozen prefix of copy 0 (every copy has the same stages): PipelineShape.forwardOnlyStages, absent when 0. */
function forwardOnlyStagesOf(stages: readonly CheckedStage[]): { forwardOnlyStages?: number } {
  const prefix = stages.filter((stage) => (stage.copy ?? 0) === 0).findIndex((stage) => !stage.forwardOnly);
  return prefix > 0 ? { forwardOnlyStages: prefix } : {};
}

/**
 * Schedule phase: the compute order the pipeline names, evaluated (or, for
 * `auto`, produced by the automatic scheduler) under `costs`, and validated
 * (every action, per-stage order, cross-stage dependencies). The schedule
 * comes back with its validation problems, so a caller can still draw it.
 */
export function scheduleProgram(program: CheckedProgram, costs: CostModel, automatic: AutoScheduler = autoSchedule): { schedule?: ComputeSchedule; diagnostics: Diagnostic[]; memoryPlan?: MemoryPlanSummary } {
  const diagnostics: Diagnostic[] = [];
  const shape = pipelineShape(program);
  const use = program.pipeline.schedule;
  const planned: { memoryPlan?: MemoryPlanSummary } = {};
  const schedule = scheduleFor(program, shape, costs, automatic, diagnostics, planned);
  if (!schedule) return { diagnostics };
  if (schedule.stages !== shape.stages || schedule.devices !== shape.devices) {
    diagnostics.push(makeDiagnostic(diagnosticMessages.stageCountMismatch, use.span, { scheduled: schedule.stages, declared: shape.stages }));
    return { diagnostics };
  }
  const problems = validateSchedule(schedule);
  if (problems.length > 0) {
    // Missing actions have no statement to point at: report them at the use
    // and point at the declaration that should have produced them.
    const declared = use.declaration ? [{ span: use.declaration.name.span, message: `schedule ${use.name} is declared here` }] : [];
    // A standard-library order is right for what its contract admits (a
    // frozen prefix it was not written for is this pipeline's), so its
    // problems are told at the user's schedule line, the library's line related.
    diagnostics.push(...problemsToDiagnostics(problems, use.span).map((d) => (d.span === use.span ? { ...d, related: [...d.related, ...declared] }
      : isStandardLibrary(d.span.file) ? relocateDiagnostic(d, use.span, `in schedule '${use.name}' (${d.span.file})`) : d)));
  }
  return { schedule, diagnostics, ...planned };
}

/**
 * Lower phase: the validated order → per-device instruction streams,
 * replicated per data-parallel replica (an allreduce of each stage's
 * gradients before its optimizer step), and each device's memory (weights,
 * gradients, optimizer state, live activations) against its capacity.
 */
export function lowerProgram(program: CheckedProgram, schedule: ComputeSchedule): { ir: IrProgram; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const { pipeline, cluster, model } = program;
  const use = pipeline.schedule;
  const stageInfo: StageLoweringInfo[] = pipeline.stages.map((stage) => ({
    recompute: stage.recompute,
    offload: stage.offload,
    activationBytes: stage.costs.activationBytes,
    outputBytes: stage.costs.outputBytes,
    inputBytes: stage.costs.inputBytes,
    ...(stage.frozen ? { frozen: true } : {}),
  }));
  const skipEdges = pipeline.skipEdges.map((edge) => ({ ...edge }));
  const lowered = lowerToInstructionStreams(schedule, stageInfo, skipEdges);
  diagnostics.push(...skipMemoryActionProblems(program, schedule));
  const activationPeak = peakActivationBytes(schedule, pipeline.stages.map(stageMemoryOptions));
  const p = pipeline.devicesPerReplica;
  const devices: IrDevice[] = [];
  const groups = allreduceGroups(program);
  for (let replica = 0; replica < pipeline.replicas; replica++) {
    for (const device of lowered.devices) {
      const rank = device.rank;
      const index = replica * p + rank;
      const held = pipeline.stages.filter((stage) => stage.device === rank);
      // Bytes per parameter in the declared precision (mixed: 2-byte weights and gradients, fp32 master and state).
      const perParameter = bytesPerParameter(pipeline.precision, pipeline.optimizer.stateFactor);
      const parameters = held.reduce((sum, stage) => sum + stage.costs.parameters, 0);
      // Frozen parameters have weights only: no gradient buffer, no optimizer state.
      const trained = held.reduce((sum, stage) => sum + stage.costs.trainableParameters, 0);
      const weights = parameters * perParameter.parameter;
      const gradients = trained * perParameter.gradient;
      const optimizerState = trained * perParameter.optimizerState;
      const activations = activationPeak[rank];
      const peak = weights + gradients + optimizerState + activations;
      const clusterDevice = cluster.devices[index];
      const capacity = clusterDevice?.memoryBytes ?? 0;
      if (clusterDevice && capacity > 0 && peak > capacity) {
        diagnostics.push(
          makeDiagnostic(diagnosticMessages.outOfMemory, pipeline.span, {
            device: index,
            name: clusterDevice.name,
            needed: formatBytes(peak),
            capacity: formatBytes(capacity),
            breakdown: `weights ${formatBytes(weights)} + gradients ${formatBytes(gradients)} + optimizer state ${formatBytes(optimizerState)} + activations ${formatBytes(activations)} (peak of ${device.slots} live microbatch activations)`,
          }, {
            hint: 'use more microbatches of smaller size, a schedule with fewer activations in flight (1f1b, v_half, v_min), recompute or offload',
            related: [{ span: clusterDevice.span, message: `${clusterDevice.name} has ${formatBytes(capacity)}` }],
          }),
        );
      }
      devices.push({
        index,
        name: clusterDevice?.name ?? `rank${rank}`,
        replica,
        rank,
        slots: device.slots,
        memory: { weights, gradients, optimizerState, activations, peak, capacity },
        instructions: withAllreduce(device.instructions, groups, pipeline.stages.map((stage) => stage.costs.weightBytes), use.span),
      });
    }
  }

  const input = model.inputs[0];
  const target = model.targets[0];
  const ir: IrProgram = {
    version: IR_VERSION,
    pipeline: pipeline.name,
    schedule: use.name,
    splitBackward: schedule.splitBackward,
    ranks: p,
    replicas: pipeline.replicas,
    ...(pipeline.placement.copies.length > 1 ? { copies: pipeline.placement.copies.length } : {}),
    microbatches: pipeline.microbatches,
    microbatchSize: pipeline.microbatchSize,
    batch: pipeline.batch,
    seed: pipeline.seed,
    optimizer: { name: pipeline.optimizer.name, args: pipeline.optimizer.args },
    ...(pipeline.precision === 'fp32' ? {} : { precision: pipeline.precision }),
    ...(pipeline.data ? { data: { name: pipeline.data.name, args: pipeline.data.args } } : {}),
    model: {
      name: model.name,
      layers: model.layers.map((layer) => irLayer(layer, model.dims)),
      input: irTensor(input, model.dims),
      target: irTensor(target, model.dims),
      loss: model.loss.function,
    },
    ...(skipEdges.length > 0 ? { skipEdges } : {}),
    stages: pipeline.stages.map((stage) => ({
      index: stage.index,
      name: stage.name,
      rank: stage.device,
      layers: stage.layers,
      recompute: stage.recompute,
      offload: stage.offload,
      activationBytes: stage.costs.activationBytes,
      ...(stage.frozen ? { frozen: true } : {}),
      ...(stage.forwardOnly ? { forwardOnly: true } : {}),
      ...(stage.copy === undefined ? {} : { copy: stage.copy }),
      ...(stage.modelStage === undefined ? {} : { modelStage: stage.modelStage }),
      ...(stage.vocabShard === undefined ? {} : { vocabShard: { shard: stage.vocabShard.shard, shards: stage.vocabShard.shards, units: stage.vocabShard.units } }),
    })),
    devices,
  };
  return { ir, diagnostics };
}

/**
 * An R, O or L the order plans for a stage at an end of a cross-stage skip
 * edge: the memory actions move or rebuild the stash, not the skip tensor
 * the stage keeps beside it (PIPE5320, at the action's statement).
 */
function skipMemoryActionProblems(program: CheckedProgram, schedule: ComputeSchedule): Diagnostic[] {
  const ends = new Set(program.pipeline.skipEdges.filter((edge) => edge.sourceStage !== edge.mergeStage).flatMap((edge) => [edge.sourceStage, edge.mergeStage]));
  if (ends.size === 0) return [];
  for (const order of schedule.orders) {
    const action = order.find((candidate) => ends.has(candidate.stage) && (candidate.operation === 'R' || candidate.operation === 'O' || candidate.operation === 'L'));
    if (action === undefined) continue;
    return [makeDiagnostic(diagnosticMessages.skipStageMemoryAction, action.span ?? program.pipeline.schedule.span, {
      action: `${action.operation}[${action.microbatch}]`, stage: action.stage,
    }, { hint: 'plan recomputation and offloading for stages that neither send nor receive a skip' })];
  }
  return [];
}

/** A stage's sizes for the split-backward memory model (compiler/schedule/memory.ts; its per-stage record: stageActivationRecord). */
export function stageMemoryOptions(stage: CheckedStage): StageMemoryOptions {
  return {
    activationBytes: stage.costs.activationBytes,
    weightGradientBytes: stage.costs.weightGradientBytes,
    inputBytes: stage.costs.inputBytes,
    inputInStash: stage.costs.inputInStash,
    recompute: stage.recompute,
    offload: stage.offload,
    ...(stage.costs.receivedSkipBytes === undefined ? {} : { receivedSkipBytes: stage.costs.receivedSkipBytes }),
  };
}

/**
 * Verify phase: the deadlock proof over the instruction streams (replicas
 * run identical streams, so one replica's ranks suffice). `at` is where a
 * deadlock is reported: the program's schedule line, or the CSV file.
 */
export function verifyStreams(ir: IrProgram, at: Span): Diagnostic[] {
  const proof = proveDeadlockFree({ devices: ir.devices.filter((device) => device.replica === 0), stages: ir.stages });
  return proof.deadlockFree ? [] : [makeDiagnostic(diagnosticMessages.deadlock, at, { detail: describeDeadlock(proof) })];
}

/**
 * A comms-annotated order (a compute_comms CSV) proven under PyTorch's
 * runtime semantics: one diagnostic per cell the runtime would reject, or
 * one for the deadlock at the first stuck rank's cell naming every stuck
 * rank. `at` is used for cells without a span.
 */
export function verifyCommsOrder(order: CommsOrder, at: Span): Diagnostic[] {
  const proof = proveCommsOrderDeadlockFree(order);
  if (proof.deadlockFree) return [];
  const spanOf = (problem: CommsProblem) => problem.action.span ?? at;
  const rejected = proof.problems.filter((problem) => problem.kind !== 'deadlock').map((problem) => {
    const message = problem.kind === 'missing-receive' ? diagnosticMessages.commsMissingReceive
      : problem.kind === 'mismatched-pair' ? diagnosticMessages.commsMismatchedPair : diagnosticMessages.commsReceivedTwice;
    return makeDiagnostic(message, spanOf(problem), { detail: problem.detail });
  });
  if (rejected.length > 0) return rejected;
  const first = proof.problems[0];
  return first === undefined ? [] : [makeDiagnostic(diagnosticMessages.commsDeadlock, spanOf(first), { detail: describeCommsDeadlock(proof) })];
}

function scheduleFor(program: CheckedProgram, shape: PipelineShape, costs: CostModel, automatic: AutoScheduler, diagnostics: Diagnostic[], planned: { memoryPlan?: MemoryPlanSummary }): ComputeSchedule | undefined {
  const use = program.pipeline.schedule;
  if (use.name === 'auto') {
    if (shape.forwardOnlyStages !== undefined) {
      diagnostics.push(makeDiagnostic(diagnosticMessages.forwardOnlyAutoSchedule, use.span, { stage: program.pipeline.stages[0].name }));
      return undefined;
    }
    const memoryLimit = autoMemoryLimit(program, shape, costs, diagnostics);
    if (!memoryLimit) return undefined;
    try {
      if (use.args.exact === true) return exactAutoSchedule({ shape, costs, memoryLimit }, use.span, diagnostics);
      const actions = autoMemoryActions(program, costs);
      if (actions.recompute || actions.offload) {
        const report = autoScheduleWithMemoryActions({ shape, costs, memoryLimit, checkpoint: checkpointUnits(program, costs), ...actions }, automatic);
        planned.memoryPlan = summariseMemoryPlan(report);
        return report.schedule;
      }
      return automatic({ shape, costs, memoryLimit });
    } catch (error) {
      diagnostics.push(makeDiagnostic(diagnosticMessages.autoScheduleFailed, use.span, { detail: error instanceof Error ? error.message : String(error) }));
      return undefined;
    }
  }
  const declaration = use.declaration ?? program.schedules.get(use.name) ?? standardSchedules().get(use.name);
  if (!declaration) {
    diagnostics.push(makeDiagnostic(diagnosticMessages.unknownScheduleUse, use.span, { name: use.name }));
    return undefined;
  }
  const evaluated = evaluateSchedule(declaration, shape, use.args, { costs, sources: program.sources });
  // The standard library's schedules are correct for the shapes their
  // contracts admit, so a failure there is this pipeline's shape: say so at
  // the user's `schedule` line, with the library's line as related.
  const atUse = isStandardLibrary(declaration.span.file)
    ? evaluated.diagnostics.map((diagnostic) => relocateDiagnostic(diagnostic, use.span, `in schedule '${use.name}' (${declaration.span.file})`))
    : evaluated.diagnostics;
  diagnostics.push(...atUse);
  return evaluated.schedule;
}

/**
 * Whether `auto` may add memory actions: as written, else for a byte limit
 * recompute always and offload when the cluster has a host link (the cost
 * model's host bandwidth); an activation-count limit adds none unless asked.
 */
function autoMemoryActions(program: CheckedProgram, costs: CostModel): { recompute: boolean; offload: boolean } {
  const { args } = program.pipeline.schedule;
  // exact: true proves plain orders, so memory actions are off unless asked (the checker refuses asking for both).
  const bytes = args.memoryUnit === 'bytes' && args.exact !== true;
  return {
    recompute: typeof args.recompute === 'boolean' ? args.recompute : bytes,
    offload: typeof args.offload === 'boolean' ? args.offload : bytes && costs.hostBandwidth !== undefined,
  };
}

/** Per stage, what a checkpointed microbatch keeps (its input), in the cost model's activation units. */
function checkpointUnits(program: CheckedProgram, costs: CostModel): number[] {
  return costs.stages.map((times, s) => {
    const stage = program.pipeline.stages[s];
    if (stage === undefined || !(stage.costs.activationBytes > 0)) return times.activation;
    return (Math.min(stage.costs.inputBytes, stage.costs.activationBytes) * times.activation) / stage.costs.activationBytes;
  });
}

/**
 * `auto(memory: ..., exact: true)`: the built-in portfolio, then the exact
 * search from its winner (compiler/autoschedule/exact.ts), always the
 * built-in one (an injected AutoScheduler has no proof to report). The
 * verdict is a diagnostic at the `schedule` line: the proven optimum (info),
 * or the best found and its gap to the lower bound (warning).
 */
function exactAutoSchedule(request: AutoScheduleRequest, span: Span, diagnostics: Diagnostic[]): ComputeSchedule {
  const report = autoScheduleWithReport(request, { exact: true });
  const verdict = report.exact!;
  const number = (value: number) => formatTime(value, request.costs.kind === 'unit' ? 'steps' : 'seconds');
  if (verdict.proven) {
    const detail = report.makespan < verdict.heuristicMakespan - 1e-9
      ? `the heuristic alone reached ${number(verdict.heuristicMakespan)}`
      : 'the heuristic reached it';
    diagnostics.push(makeDiagnostic(diagnosticMessages.autoExactProven, span, { makespan: number(report.makespan), detail }));
  } else {
    const gap = report.makespan - verdict.lowerBound;
    const gapText = `${number(gap)} (${((gap / Math.max(verdict.lowerBound, 1e-30)) * 100).toFixed(1)}%)`;
    if (verdict.tooLarge) {
      const actions = request.shape.stages * request.shape.microbatches * 3;
      diagnostics.push(makeDiagnostic(diagnosticMessages.autoExactTooLarge, span, {
        actions, limit: EXACT_MAX_ACTIONS, makespan: number(report.makespan), bound: number(verdict.lowerBound), gap: gapText,
      }));
    } else {
      diagnostics.push(makeDiagnostic(diagnosticMessages.autoExactUnproven, span, {
        nodes: verdict.nodes, makespan: number(report.makespan), bound: number(verdict.lowerBound), gap: gapText,
      }));
    }
  }
  return report.schedule;
}

/**
 * `auto(memory: K * activations(NAME))`: K times NAME's peak activations per
 * rank; `auto(memory: 12GiB)`: the bytes left after weights, gradients and
 * optimizer state, in the cost model's activation units.
 */
function autoMemoryLimit(program: CheckedProgram, shape: PipelineShape, costs: CostModel, diagnostics: Diagnostic[]): number[] | undefined {
  const { pipeline } = program;
  const use = pipeline.schedule;
  const memory = Number(use.args.memory);
  const units = costs.stages.map((stage) => stage.activation);
  if (use.args.memoryUnit === 'activations') {
    const reference = String(use.args.reference);
    const declaration = program.schedules.get(reference) ?? standardSchedules().get(reference);
    if (!declaration) {
      diagnostics.push(makeDiagnostic(diagnosticMessages.unknownScheduleUse, use.span, { name: reference }));
      return undefined;
    }
    const evaluated = evaluateSchedule(declaration, shape, {}, { costs, sources: program.sources });
    if (!evaluated.schedule) {
      // The reference's own errors point into its declaration (often the
      // standard library); the mistake is the user's choice of reference.
      const reason = evaluated.diagnostics.find((d) => d.severity === 'error');
      diagnostics.push(makeDiagnostic(diagnosticMessages.memoryReferenceUnusable, use.span, { name: reference, reason: reason?.message ?? 'it produces no order' }, {
        hint: isZigZag(pipeline.placement)
          ? 'name a schedule written for this placement, e.g. activations(zb_v), or give the limit in bytes'
          : 'name a schedule written for this many stages per device, or give the limit in bytes',
        related: reason ? [{ span: reason.span, message: `why '${reference}' cannot run it` }] : [],
      }));
      return undefined;
    }
    diagnostics.push(...evaluated.diagnostics);
    return peakActivations(evaluated.schedule, units).map((peak) => peak * memory);
  }
  return Array.from({ length: shape.devices }, (_, rank) => {
    const held = pipeline.stages.filter((stage) => stage.device === rank);
    const perParameter = bytesPerParameter(pipeline.precision, pipeline.optimizer.stateFactor);
    const fixed = held.reduce((sum, stage) => sum + stage.costs.parameters * perParameter.parameter
      + stage.costs.trainableParameters * (perParameter.gradient + perParameter.optimizerState), 0);
    const bytesPerUnit = held.length === 0 ? 1 : held.reduce((sum, stage) => sum + stage.costs.activationBytes, 0) / Math.max(1e-30, held.reduce((sum, stage) => sum + units[stage.index], 0));
    return Math.max(0, (memory - fixed) / Math.max(bytesPerUnit, 1e-30));
  });
}

/**
 * Per stage, the global devices whose gradients of it are combined before
 * the optimizer step: the stage's rank in every replica, and, with a
 * mirrored placement, the rank of the other model copy's same stage too
 * (the runtime sums over copies and averages over replicas). A group of one
 * device needs no allreduce.
 */
function allreduceGroups(program: CheckedProgram): number[][] {
  const { pipeline } = program;
  const ranks = pipeline.devicesPerReplica;
  return pipeline.stages.map((stage) => {
    const model = stage.modelStage ?? stage.index;
    const holders = pipeline.stages.filter((other) => (other.modelStage ?? other.index) === model).map((other) => other.device);
    return Array.from({ length: pipeline.replicas }, (_, replica) => holders.map((rank) => replica * ranks + rank)).flat().sort((a, b) => a - b);
  });
}

/** Before each stage's optimizer step, the allreduce of its gradients over its group (replicas, model copies). */
function withAllreduce(instructions: readonly Instruction[], groups: readonly (readonly number[])[], gradientBytes: readonly number[], span: Span): Instruction[] {
  if (groups.every((group) => group.length <= 1)) return [...instructions];
  const source = { file: span.file, start: span.start, end: span.end };
  const out: Instruction[] = [];
  for (const instruction of instructions) {
    const group = groups[instruction.stage];
    if (instruction.op === 'optimizer_step' && group.length > 1) out.push({ op: 'allreduce', stage: instruction.stage, group, bytes: gradientBytes[instruction.stage], source });
    out.push(instruction);
  }
  return out;
}

function resolveDims(shape: TensorShape, dims: Readonly<Record<string, number | null>>): number[] {
  // The leading dim is the batch (symbolic, bound per microbatch); the IR keeps per-example shapes.
  const rest = shape.dims.length > 0 && typeof shape.dims[0] === 'string' && (dims[shape.dims[0]] ?? null) === null ? shape.dims.slice(1) : shape.dims;
  return rest.map((dim) => (typeof dim === 'number' ? dim : (dims[dim] ?? 1)));
}

function irDtype(dtype: TensorShape['dtype']): 'f32' | 'i32' {
  return dtype === 'i32' ? 'i32' : 'f32';
}

function irLayer(layer: CheckedLayer, dims: Readonly<Record<string, number | null>>): IrLayer {
  return {
    name: layer.name,
    operator: layer.operator,
    args: layer.args,
    inputShape: resolveDims(layer.inputShape, dims),
    outputShape: resolveDims(layer.outputShape, dims),
    inputDtype: irDtype(layer.inputShape.dtype),
    outputDtype: irDtype(layer.outputShape.dtype),
    parameters: layer.parameters,
    children: layer.children.map((child) => irLayer(child, dims)),
    ...(layer.implementation ? { implementation: layer.implementation } : {}),
    ...(layer.parametersDeclared ? { parametersDeclared: true } : {}),
    ...(layer.frozen ? { frozen: true } : {}),
  };
}

function irTensor(tensor: CheckedTensor | undefined, dims: Readonly<Record<string, number | null>>) {
  if (!tensor) return { name: '', shape: [], dtype: 'f32' as const };
  return { name: tensor.name, shape: resolveDims(tensor.shape, dims), dtype: irDtype(tensor.shape.dtype) };
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(2)} ${units[unit]}`;
}
