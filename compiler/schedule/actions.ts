// Small shared vocabulary for compute actions: labels in PyTorch's notation
// (stage, operation, microbatch: `1F3`), durations under a cost model, and
// the dependency each action waits for. Every phase that reasons about a
// ComputeSchedule (timing, validation, list scheduling, lowering) uses these
// so they agree on what "F of stage s needs" means.

import type { CostModel } from '../cost/types.ts';
import type { ComputeAction, ComputeOperation, MemoryOperation, PipelineShape } from './types.ts';

/** PyTorch's cell notation: global stage, operation, microbatch (`0F3`, `7B2`). */
export function actionLabel(action: { readonly stage: number; readonly operation: ComputeOperation; readonly microbatch: number }): string {
  return `${action.stage}${action.operation}${action.microbatch}`;
}

export function describeAction(action: { readonly stage: number; readonly operation: ComputeOperation; readonly microbatch: number }): string {
  return `${actionLabel(action)} (${operationName(action.operation)} of stage ${action.stage}, microbatch ${action.microbatch})`;
}

export function operationName(operation: ComputeOperation): string {
  switch (operation) {
    case 'F': return 'forward';
    case 'B': return 'backward';
    case 'I': return 'backward for inputs';
    case 'W': return 'backward for weights';
    case 'R': return 'recompute';
    case 'O': return 'offload';
    case 'L': return 'load back';
  }
}

export function actionDuration(costs: CostModel, operation: ComputeOperation, stage: number): number {
  const times = costs.stages[stage];
  switch (operation) {
    case 'F': return times.forward;
    case 'B': return times.backward;
    case 'I': return times.backwardInput;
    case 'W': return times.backwardWeight;
    // R re-runs the forward on the compute stream.
    case 'R': return times.forward;
    // O and L run on the device's copy stream (compiler/simulate), so they
    // take no compute time in an order's timing.
    case 'O':
    case 'L': return 0;
  }
}

/** R, O and L: they move or rebuild a stash; they neither compute training steps nor wait for other stages. */
export function isMemoryOperation(operation: ComputeOperation): operation is MemoryOperation {
  return operation === 'R' || operation === 'O' || operation === 'L';
}

/**
 * What an action waits for on other stages, as (operation class, stage)
 * pairs of the same microbatch. 'G' means "the input gradient of that
 * stage is ready" — produced by either its B or its I.
 */
export type DependencyClass = 'F' | 'G' | 'I';

export interface Dependency {
  readonly kind: DependencyClass;
  readonly stage: number;
  /** Communication delay when the producer runs on another device. */
  readonly crossDevice: boolean;
}

/** Model copies of a shape (1 unless the placement is mirrored). */
export function copiesOf(shape: { readonly copies?: number }): number {
  return shape.copies ?? 1;
}

type StageShape = { readonly stages: number; readonly copies?: number; readonly vocabShards?: number };

/** Vocabulary shard stages of a shape (0 unless the pipeline is vocab_parallel). */
export function vocabShardsOf(shape: { readonly vocabShards?: number }): number {
  return shape.vocabShards ?? 0;
}

/** Stages of the model itself (every copy), without the vocabulary shards that follow them. */
export function modelStageCount(shape: StageShape): number {
  return shape.stages - vocabShardsOf(shape);
}

/** Whether schedule stage `stage` is a vocabulary shard (its F is an S pass, its B a T pass). */
export function isVocabShard(shape: StageShape, stage: number): boolean {
  return stage >= modelStageCount(shape);
}

/** The vocabulary shard stages, shard k (on rank k) first to last. */
export function vocabShardStages(shape: StageShape): number[] {
  const first = modelStageCount(shape);
  return Array.from({ length: vocabShardsOf(shape) }, (_, k) => first + k);
}

/** Stages of one model copy. */
export function stagesPerCopy(shape: StageShape): number {
  return modelStageCount(shape) / copiesOf(shape);
}

/** The model copy that schedule stage `stage` belongs to (vocabulary shards: 0). */
export function copyOfStage(shape: StageShape, stage: number): number {
  if (isVocabShard(shape, stage)) return 0;
  return Math.floor(stage / stagesPerCopy(shape));
}

/** Whether the stage takes its copy's data (no predecessor): stage 0 of some copy. */
export function isFirstStageOfCopy(shape: StageShape, stage: number): boolean {
  return !isVocabShard(shape, stage) && stage % stagesPerCopy(shape) === 0;
}

/**
 * Whether the stage computes a loss and sends no activation on: its copy's
 * last stage, or with vocabulary shards each shard (the last model stage
 * then sends its output to every shard).
 */
export function isLastStageOfCopy(shape: StageShape, stage: number): boolean {
  if (isVocabShard(shape, stage)) return true;
  if (vocabShardsOf(shape) > 0) return false;
  const perCopy = stagesPerCopy(shape);
  return stage % perCopy === perCopy - 1;
}

/** The stages whose output the F of `stage` takes as its input: the one before, or for a shard the last model stage. */
export function activationSources(shape: StageShape, stage: number): number[] {
  if (isVocabShard(shape, stage)) return [modelStageCount(shape) - 1];
  return isFirstStageOfCopy(shape, stage) ? [] : [stage - 1];
}

/** The stages the output of `stage` is sent to: the next, or from the last model stage every vocabulary shard (the broadcast). */
export function activationConsumers(shape: StageShape, stage: number): number[] {
  if (isVocabShard(shape, stage)) return [];
  if (vocabShardsOf(shape) > 0 && stage === modelStageCount(shape) - 1) return vocabShardStages(shape);
  return isLastStageOfCopy(shape, stage) ? [] : [stage + 1];
}

/** The stages whose input gradient the B/I of `stage` takes: the next, or on the last model stage the sum over every shard. */
export function gradientSources(shape: StageShape, stage: number): number[] {
  return activationConsumers(shape, stage);
}

/** The stages the input gradient of `stage` is sent to (none from a copy's first stage, none into a forward-only stage). */
export function gradientConsumers(shape: StageShape & { readonly forwardOnlyStages?: number }, stage: number): number[] {
  return activationSources(shape, stage).filter((source) => !isForwardOnly(shape, source));
}

/**
 * The shards whose S pass a shard's T pass waits for: every other shard
 * (their local max and sum-exp make the softmax's normaliser, the paper's
 * all-reduce C0). Empty for a model stage.
 */
export function statisticsPeers(shape: StageShape, stage: number): number[] {
  return isVocabShard(shape, stage) ? vocabShardStages(shape).filter((other) => other !== stage) : [];
}

/** Whether the stage runs forward only: it lies in its copy's frozen prefix (PipelineShape.forwardOnlyStages). */
export function isForwardOnly(shape: StageShape & { readonly forwardOnlyStages?: number }, stage: number): boolean {
  return !isVocabShard(shape, stage) && stage % stagesPerCopy(shape) < (shape.forwardOnlyStages ?? 0);
}

/** The compute operations a stage runs per microbatch: F alone for a forward-only stage, else F and B, or F, I and W when split. */
export function operationsOfStage(shape: PipelineShape, stage: number, splitBackward: boolean): readonly ComputeOperation[] {
  if (isForwardOnly(shape, stage)) return FORWARD_ONLY;
  return splitBackward ? SPLIT : FUSED;
}
const FORWARD_ONLY: readonly ComputeOperation[] = ['F'];
const SPLIT: readonly ComputeOperation[] = ['F', 'I', 'W'];
const FUSED: readonly ComputeOperation[] = ['F', 'B'];

export function dependenciesOf(shape: PipelineShape, operation: ComputeOperation, stage: number): Dependency[] {
  const deps: Dependency[] = [];
  const device = shape.stageDevice[stage];
  if (operation === 'F') {
    for (const source of activationSources(shape, stage)) deps.push({ kind: 'F', stage: source, crossDevice: shape.stageDevice[source] !== device });
  } else if (operation === 'B' || operation === 'I') {
    deps.push({ kind: 'F', stage, crossDevice: false });
    for (const source of gradientSources(shape, stage)) deps.push({ kind: 'G', stage: source, crossDevice: shape.stageDevice[source] !== device });
    // A shard's statistics are sent when its F ends: charged as that stage's sendActivation.
    for (const peer of statisticsPeers(shape, stage)) deps.push({ kind: 'F', stage: peer, crossDevice: shape.stageDevice[peer] !== device });
  } else if (operation === 'W') {
    deps.push({ kind: 'I', stage, crossDevice: false });
  } else {
    // R / O / L act on the stash of their own stage, made by its F on the same device.
    deps.push({ kind: 'F', stage, crossDevice: false });
  }
  return deps;
}

/** Communication time charged on a dependency edge under a cost model. */
export function dependencyDelay(costs: CostModel, dependency: Dependency): number {
  if (!dependency.crossDevice) return 0;
  // F of s waits for F of s-1's output: sendActivation[s-1]; B/I of s waits
  // for the gradient sent back by s+1: sendGradient[s+1] (a shard's T for
  // another shard's statistics: that shard's sendActivation).
  return dependency.kind === 'F' ? costs.sendActivation[dependency.stage] ?? 0 : costs.sendGradient[dependency.stage] ?? 0;
}

/** Index of a (stage, microbatch) pair in flat per-pair arrays. */
export function pairIndex(shape: PipelineShape, stage: number, microbatch: number): number {
  return stage * shape.microbatches + microbatch;
}

export function isBackward(operation: ComputeOperation): boolean {
  return operation === 'B' || operation === 'I';
}

/** Group a device's order into units that run together (overlap groups, or single actions). */
export function executionUnits(order: readonly ComputeAction[]): Array<{ readonly first: number; readonly end: number }> {
  const units: Array<{ first: number; end: number }> = [];
  let index = 0;
  while (index < order.length) {
    const group = order[index].overlapGroup;
    let end = index + 1;
    if (group !== undefined) while (end < order.length && order[end].overlapGroup === group) end++;
    units.push({ first: index, end });
    index = end;
  }
  return units;
}
