// The comparison grid of issue 5 and the glue that runs the reference
// heuristic on a pipec problem and times its order with pipec's evaluator.

import type { CostModel } from '../../../compiler/cost/types.ts';
import { buildTables, encode, makeEvaluator, type SchedulingProblem } from '../../../compiler/autoschedule/orders.ts';
import { referenceZeroBubbleOrder } from './zeroBubbleHeuristic.ts';

export interface GridCase {
  readonly devices: number;
  readonly microbatches: number;
  readonly forward: number;
  readonly backwardInput: number;
  readonly backwardWeight: number;
  readonly comm: number;
  /** Activation units per rank. */
  readonly limit: number;
}

export function gridCases(): GridCase[] {
  const cases: GridCase[] = [];
  for (const devices of [4, 8]) {
    for (const microbatches of [8, 16, 24]) {
      for (const [forward, backwardInput, backwardWeight] of [[1, 1, 1], [1, 1.1, 0.8]]) {
        for (const comm of [0, 0.5]) {
          for (const limit of [devices, Math.round(1.5 * devices), 2 * devices]) {
            cases.push({ devices, microbatches, forward, backwardInput, backwardWeight, comm, limit });
          }
        }
      }
    }
  }
  return cases;
}

export function uniformCosts(stages: number, forward: number, backwardInput: number, backwardWeight: number, comm: number): CostModel {
  const stage = { forward, backward: backwardInput + backwardWeight, backwardInput, backwardWeight, activation: 1 };
  return {
    kind: 'measured',
    stages: Array.from({ length: stages }, () => stage),
    sendActivation: Array.from({ length: stages }, () => comm),
    sendGradient: Array.from({ length: stages }, () => comm),
  };
}

export function problemOf(gridCase: GridCase): SchedulingProblem {
  const p = gridCase.devices;
  return {
    shape: { devices: p, stages: p, microbatches: gridCase.microbatches, stageDevice: Array.from({ length: p }, (_, d) => d) },
    costs: uniformCosts(p, gridCase.forward, gridCase.backwardInput, gridCase.backwardWeight, gridCase.comm),
    memoryLimit: Array.from({ length: p }, () => gridCase.limit),
  };
}

/** The reference heuristic's makespan under pipec's evaluator; undefined when it fails or breaks a rule. */
export function referenceMakespan(problem: SchedulingProblem): number | undefined {
  const { shape, costs, memoryLimit } = problem;
  const n = shape.stages;
  const result = referenceZeroBubbleOrder({
    stages: n,
    microbatches: shape.microbatches,
    costF: costs.stages.map((s) => s.forward),
    costB: costs.stages.map((s) => s.backwardInput),
    costW: costs.stages.map((s) => s.backwardWeight),
    comm: costs.sendActivation[0] ?? 0,
    memF: costs.stages.map((s) => s.activation),
    memB: costs.stages.map(() => 0),
    memW: costs.stages.map((s) => -s.activation),
    maxMem: shape.stageDevice.map((d) => memoryLimit[d]),
  });
  if (result === undefined) return undefined;
  const tables = buildTables(problem);
  const orders = Array.from({ length: shape.devices }, () => new Int32Array(0));
  result.perStage.forEach((puts, stage) => {
    orders[shape.stageDevice[stage]] = Int32Array.from(puts, ([type, mb]) => encode(tables, stage, mb, type));
  });
  const makespan = makeEvaluator(tables).makespan(orders);
  return Number.isFinite(makespan) ? makespan : undefined;
}
