// The automatic scheduler's working representation: per device, an order of
// action codes (integers), and a fast evaluator that times an order under a
// cost model, detects circular waits and checks the activation limit.
// Local search evaluates thousands of candidate orders, so this avoids
// objects and allocation in the inner loop.
//
// Code of an action: (stage * microbatches + microbatch) * 3 + op, with
// op 0 = F, 1 = I (backward for inputs), 2 = W (backward for weights).

import type { CostModel } from '../cost/types.ts';
import type { ComputeAction, ComputeSchedule, PipelineShape } from '../schedule/types.ts';

export const OP_F = 0;
export const OP_I = 1;
export const OP_W = 2;
const OPERATIONS = ['F', 'I', 'W'] as const;

export interface SchedulingProblem {
  readonly shape: PipelineShape;
  readonly costs: CostModel;
  /** Per rank, in the units of costs.stages[].activation. */
  readonly memoryLimit: readonly number[];
}

/** Precomputed per-problem tables shared by every strategy. */
export interface ProblemTables {
  readonly problem: SchedulingProblem;
  readonly stages: number;
  readonly microbatches: number;
  readonly devices: number;
  readonly stageDevice: Int32Array;
  /** duration[stage * 3 + op] */
  readonly duration: Float64Array;
  /** Delay before stage s's F can use stage s-1's output (0 on one device). */
  readonly activationDelay: Float64Array;
  /** Delay before stage s's I can use stage s+1's input gradient (0 on one device). */
  readonly gradientDelay: Float64Array;
  readonly activation: Float64Array;
  readonly limit: Float64Array;
  /** stagesOf[d]: stages on device d, ascending. */
  readonly stagesOf: readonly (readonly number[])[];
  /** max over devices of the device's total compute: no order can finish sooner. */
  readonly lowerBound: number;
  /**
   * Tighter: a device cannot start before microbatch 0's forward reaches its
   * first stage, so max over devices of (that arrival + the device's work).
   */
  readonly fillBound: number;
}

export function buildTables(problem: SchedulingProblem): ProblemTables {
  const { shape, costs } = problem;
  const n = shape.stages;
  const duration = new Float64Array(n * 3);
  const activationDelay = new Float64Array(n);
  const gradientDelay = new Float64Array(n);
  const activation = new Float64Array(n);
  const stagesOf: number[][] = Array.from({ length: shape.devices }, () => []);
  for (let s = 0; s < n; s++) {
    const times = costs.stages[s];
    duration[s * 3 + OP_F] = times.forward;
    duration[s * 3 + OP_I] = times.backwardInput;
    duration[s * 3 + OP_W] = times.backwardWeight;
    activation[s] = times.activation;
    if (s > 0 && shape.stageDevice[s - 1] !== shape.stageDevice[s]) activationDelay[s] = costs.sendActivation[s - 1] ?? 0;
    if (s < n - 1 && shape.stageDevice[s + 1] !== shape.stageDevice[s]) gradientDelay[s] = costs.sendGradient[s + 1] ?? 0;
    stagesOf[shape.stageDevice[s]].push(s);
  }
  const firstArrival = new Float64Array(n);
  for (let s = 1; s < n; s++) firstArrival[s] = firstArrival[s - 1] + duration[(s - 1) * 3] + activationDelay[s];
  let lowerBound = 0;
  let fillBound = 0;
  for (const stages of stagesOf) {
    let total = 0;
    for (const s of stages) total += shape.microbatches * (duration[s * 3] + duration[s * 3 + 1] + duration[s * 3 + 2]);
    lowerBound = Math.max(lowerBound, total);
    if (stages.length > 0) fillBound = Math.max(fillBound, firstArrival[stages[0]] + total);
  }
  return {
    problem,
    stages: n,
    microbatches: shape.microbatches,
    devices: shape.devices,
    stageDevice: Int32Array.from(shape.stageDevice),
    duration,
    activationDelay,
    gradientDelay,
    activation,
    limit: Float64Array.from(problem.memoryLimit),
    stagesOf,
    lowerBound,
    fillBound,
  };
}

export type CodeOrders = Int32Array[];

/** Scratch buffers reused across evaluations of one problem. */
export interface Evaluator {
  /** Makespan of the orders, or +Infinity when they deadlock or break the memory limit. */
  makespan(orders: CodeOrders): number;
  /** Finish time of each action code after the last makespan() call (NaN if never run). */
  readonly finish: Float64Array;
  /** After the last makespan() call: the largest peak of live activations on any device. */
  peakActivations(): number;
}

export function makeEvaluator(tables: ProblemTables): Evaluator {
  const { stages, microbatches, devices, duration, activationDelay, gradientDelay, activation, limit } = tables;
  const codes = stages * microbatches * 3;
  const finish = new Float64Array(codes);
  const next = new Int32Array(devices);
  const free = new Float64Array(devices);
  const waiting = new Int32Array(codes); // device + 1 blocked on this code
  const worklist = new Int32Array(devices * 2 + codes);
  const epsilon = 1e-9;
  let peak = 0;
  return {
    finish,
    peakActivations: () => peak,
    makespan(orders: CodeOrders): number {
      peak = 0;
      // Memory: an F raises the device's live activations when it starts, a W
      // lowers them when it ends; in a sequential order the peak is reached
      // right after some F starts.
      for (let d = 0; d < devices; d++) {
        const order = orders[d];
        let live = 0;
        for (let k = 0; k < order.length; k++) {
          const code = order[k];
          const op = code % 3;
          const stage = Math.floor(code / 3 / microbatches);
          if (op === OP_F) {
            live += activation[stage];
            if (live > limit[d] + epsilon) return Number.POSITIVE_INFINITY;
            if (live > peak) peak = live;
          } else if (op === OP_W) live -= activation[stage];
        }
      }
      finish.fill(Number.NaN);
      waiting.fill(0);
      next.fill(0);
      free.fill(0);
      let top = 0;
      for (let d = devices - 1; d >= 0; d--) worklist[top++] = d;
      while (top > 0) {
        const d = worklist[--top];
        const order = orders[d];
        while (next[d] < order.length) {
          const code = order[next[d]];
          const op = code % 3;
          const pair = (code - op) / 3;
          const stage = Math.floor(pair / microbatches);
          let ready = free[d];
          let blockedOn = -1;
          if (op === OP_F) {
            if (stage > 0) {
              const t = finish[code - microbatches * 3];
              if (Number.isNaN(t)) blockedOn = code - microbatches * 3;
              else ready = Math.max(ready, t + activationDelay[stage]);
            }
          } else if (op === OP_I) {
            const own = finish[code - 1];
            if (Number.isNaN(own)) blockedOn = code - 1;
            else {
              ready = Math.max(ready, own);
              if (stage < stages - 1) {
                const t = finish[code + microbatches * 3];
                if (Number.isNaN(t)) blockedOn = code + microbatches * 3;
                else ready = Math.max(ready, t + gradientDelay[stage]);
              }
            }
          } else {
            const t = finish[code - 1];
            if (Number.isNaN(t)) blockedOn = code - 1;
            else ready = Math.max(ready, t);
          }
          if (blockedOn >= 0) {
            waiting[blockedOn] = d + 1;
            break;
          }
          const end = ready + duration[stage * 3 + op];
          finish[code] = end;
          free[d] = end;
          next[d]++;
          const waiter = waiting[code];
          if (waiter !== 0) {
            waiting[code] = 0;
            if (waiter - 1 !== d) worklist[top++] = waiter - 1;
          }
        }
      }
      let makespan = 0;
      for (let d = 0; d < devices; d++) {
        if (next[d] < orders[d].length) return Number.POSITIVE_INFINITY;
        makespan = Math.max(makespan, free[d]);
      }
      return makespan;
    },
  };
}

export function encode(tables: ProblemTables, stage: number, microbatch: number, op: number): number {
  return (stage * tables.microbatches + microbatch) * 3 + op;
}

export function toComputeSchedule(tables: ProblemTables, name: string, orders: CodeOrders): ComputeSchedule {
  const { shape } = tables.problem;
  const m = tables.microbatches;
  const computeOrders: ComputeAction[][] = orders.map((order) =>
    Array.from(order, (code) => {
      const op = code % 3;
      const pair = (code - op) / 3;
      return { operation: OPERATIONS[op], stage: Math.floor(pair / m), microbatch: pair % m };
    }),
  );
  return {
    devices: shape.devices,
    stages: shape.stages,
    microbatches: shape.microbatches,
    stageDevice: shape.stageDevice,
    name,
    splitBackward: true,
    orders: computeOrders,
  };
}

/** Inverse of toComputeSchedule for split-backward schedules (F, I, W only). */
export function fromComputeSchedule(tables: ProblemTables, schedule: ComputeSchedule): CodeOrders | undefined {
  const orders: CodeOrders = [];
  for (const order of schedule.orders) {
    const codes = new Int32Array(order.length);
    for (let k = 0; k < order.length; k++) {
      const action = order[k];
      const op = action.operation === 'F' ? OP_F : action.operation === 'I' ? OP_I : action.operation === 'W' ? OP_W : -1;
      if (op < 0) return undefined;
      codes[k] = encode(tables, action.stage, action.microbatch, op);
    }
    orders.push(codes);
  }
  return orders;
}
