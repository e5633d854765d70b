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

/** Stages of one model copy. */
export function stagesPerCopy(shape: { readonly stages: number; readonly copies?: number }): number {
  return shape.stages / copiesOf(shape);
}

/** The model copy that schedule stage `stage` belongs to. */
export function copyOfStage(shape: { readonly stages: number; readonly copies?: number }, stage: number): number {
  return Math.floor(stage / stagesPerCopy(shape));
}

/** Whether the stage takes its copy's data (no predecessor): stage 0 of some copy. */
export function isFirstStageOfCopy(shape: { readonly stages: number; readonly copies?: number }, stage: number): boolean {
  return stage % stagesPerCopy(shape) === 0;
}

/** Whether the stage computes its copy's loss (no successor). */
export function isLastStageOfCopy(shape: { readonly stages: number; readonly copies?: number }, stage: number): boolean {
  const perCopy = stagesPerCopy(shape);
  return stage % perCopy === perCopy - 1;
}

/** Whether the stage runs forward only: it lies in its copy's frozen prefix (PipelineShape.forwardOnlyStages). */
export function isForwardOnly(shape: { readonly stages: number; readonly copies?: number; readonly forwardOnlyStages?: number }, stage: number): boolean {
  return stage % stagesPerCopy(shape) < (shape.forwardOnlyStages ?? 0);
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
    if (!isFirstStageOfCopy(shape, stage)) deps.push({ kind: 'F', stage: stage - 1, crossDevice: shape.stageDevice[stage - 1] !== device });
  } else if (operation === 'B' || operation === 'I') {
    deps.push({ kind: 'F', stage, crossDevice: false });
    if (!isLastStageOfCopy(shape, stage)) deps.push({ kind: 'G', stage: stage + 1, crossDevice: shape.stageDevice[stage + 1] !== device });
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
  // for the gradient sent back by s+1: sendGradient[s+1].
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
