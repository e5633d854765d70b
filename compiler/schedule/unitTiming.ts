// Compute-level timing of a ComputeSchedule: each device runs its order
// strictly in sequence; an action starts when the device is free and the
// actions it depends on (on this or other devices) have finished, plus the
// communication time the cost model charges on cross-device edges. With a
// fixed order per device this is a longest-path computation over a DAG, so
// it runs in time linear in the number of actions (waiters are woken by the
// dependency they wait for, never by polling).
//
// Under unit costs (F = I = W = 1, B = 2, no communication) this reproduces
// the makespans PyTorch's orders are quoted with. The full event-driven
// simulator over the IR (with sends, receives and memory) lives elsewhere;
// this is the yardstick the scheduler and the tests use.

import { unitCostModel, type CostModel } from '../cost/types.ts';
import { actionDuration, dependenciesOf, dependencyDelay, executionUnits, pairIndex, type Dependency } from './actions.ts';
import type { ComputeAction, ComputeSchedule } from './types.ts';

export interface StuckDevice {
  readonly device: number;
  /** Index in the device's order of the first action that cannot start. */
  readonly step: number;
  readonly action: ComputeAction;
  /** The dependency it waits for that never finishes. */
  readonly waitsFor: { readonly operation: 'F' | 'B or I' | 'I'; readonly stage: number; readonly microbatch: number; readonly device: number };
}

export interface ScheduleTiming {
  readonly makespan: number;
  /** start[d][k], finish[d][k]: times of device d's k-th action (NaN when never reached). */
  readonly start: readonly Float64Array[];
  readonly finish: readonly Float64Array[];
  /** Busy time per device. */
  readonly busy: readonly number[];
  /** 1 - total busy / (devices × makespan). */
  readonly bubble: number;
  /** Devices that could not finish their order (a circular wait); empty when all finished. */
  readonly stuck: readonly StuckDevice[];
}

export interface TimingOptions {
  readonly costs?: CostModel;
  /**
   * How an overlap group (DualPipe's F&B pair) is timed. 'sequential' (the
   * default, and how PyTorch's quoted makespans count) runs its members one
   * after the other, each as soon as its own inputs are there; 'together'
   * starts the pair when both inputs are there and charges the longer one
   * (perfect overlap of one member's communication with the other's compute).
   */
  readonly overlap?: 'sequential' | 'together';
}

export function timeSchedule(schedule: ComputeSchedule, options: TimingOptions = {}): ScheduleTiming {
  const costs = options.costs ?? unitCostModel(schedule.stages);
  const together = options.overlap === 'together';
  const pairs = schedule.stages * schedule.microbatches;
  // Finish time of each (stage, microbatch)'s F, of its input gradient (B or
  // I), and of its I alone. NaN = not yet finished.
  const doneF = new Float64Array(pairs).fill(Number.NaN);
  const doneG = new Float64Array(pairs).fill(Number.NaN);
  const doneI = new Float64Array(pairs).fill(Number.NaN);
  const devices = schedule.devices;
  const units = schedule.orders.map((order) =>
    together ? executionUnits(order) : order.map((_, k) => ({ first: k, end: k + 1 })),
  );
  const nextUnit = new Int32Array(devices);
  const free = new Float64Array(devices);
  const busy = new Array<number>(devices).fill(0);
  const start = schedule.orders.map((order) => new Float64Array(order.length).fill(Number.NaN));
  const finish = schedule.orders.map((order) => new Float64Array(order.length).fill(Number.NaN));
  // waiters[kind][pair] = devices to retry when that result appears.
  const waiters = new Map<number, number[]>();
  const waiterKey = (kind: Dependency['kind'], pair: number) => pair * 3 + (kind === 'F' ? 0 : kind === 'G' ? 1 : 2);
  const doneArray = (kind: Dependency['kind']) => (kind === 'F' ? doneF : kind === 'G' ? doneG : doneI);
  // Dependencies are recomputed per action; cache them per (operation, stage).
  const depCache = new Map<number, Dependency[]>();
  const depsFor = (action: ComputeAction) => {
    const key = action.stage * 4 + 'FBIW'.indexOf(action.operation);
    let deps = depCache.get(key);
    if (!deps) depCache.set(key, (deps = dependenciesOf(schedule, action.operation, action.stage)));
    return deps;
  };
  const inRange = (action: ComputeAction) =>
    action.stage >= 0 && action.stage < schedule.stages && action.microbatch >= 0 && action.microbatch < schedule.microbatches;

  const worklist: number[] = [];
  for (let d = 0; d < devices; d++) worklist.push(d);
  while (worklist.length > 0) {
    const d = worklist.pop()!;
    const order = schedule.orders[d];
    advance: while (nextUnit[d] < units[d].length) {
      const unit = units[d][nextUnit[d]];
      let ready = free[d];
      for (let k = unit.first; k < unit.end; k++) {
        const action = order[k];
        if (!inRange(action)) break advance; // validation reports it; timing cannot place it
        for (const dep of depsFor(action)) {
          const pair = pairIndex(schedule, dep.stage, action.microbatch);
          // A dependency produced inside the same overlap group would be a
          // circular wait; it is simply never ready.
          const done = doneArray(dep.kind)[pair];
          if (Number.isNaN(done)) {
            const key = waiterKey(dep.kind, pair);
            const list = waiters.get(key);
            if (list) list.push(d);
            else waiters.set(key, [d]);
            break advance;
          }
          ready = Math.max(ready, done + dependencyDelay(costs, dep));
        }
      }
      let duration = 0;
      for (let k = unit.first; k < unit.end; k++) {
        const length = actionDuration(costs, order[k].operation, order[k].stage);
        duration = Math.max(duration, length);
      }
      const end = ready + duration;
      free[d] = end;
      busy[d] += duration;
      nextUnit[d]++;
      for (let k = unit.first; k < unit.end; k++) {
        const action = order[k];
        start[d][k] = ready;
        finish[d][k] = end;
        const pair = pairIndex(schedule, action.stage, action.microbatch);
        const produced: Dependency['kind'][] =
          action.operation === 'F' ? ['F'] : action.operation === 'B' ? ['G'] : action.operation === 'I' ? ['G', 'I'] : [];
        for (const kind of produced) {
          const array = doneArray(kind);
          if (Number.isNaN(array[pair])) array[pair] = end;
          const key = waiterKey(kind, pair);
          const list = waiters.get(key);
          if (list) {
            waiters.delete(key);
            for (const waiter of list) if (waiter !== d) worklist.push(waiter);
          }
        }
      }
    }
  }

  let makespan = 0;
  for (let d = 0; d < devices; d++) makespan = Math.max(makespan, free[d]);
  const totalBusy = busy.reduce((a, b) => a + b, 0);
  const stuck: StuckDevice[] = [];
  for (let d = 0; d < devices; d++) {
    if (nextUnit[d] >= units[d].length) continue;
    const unit = units[d][nextUnit[d]];
    for (let k = unit.first; k < unit.end; k++) {
      const action = schedule.orders[d][k];
      if (!inRange(action)) break;
      const missing = depsFor(action).find((dep) => Number.isNaN(doneArray(dep.kind)[pairIndex(schedule, dep.stage, action.microbatch)]));
      if (!missing) continue;
      stuck.push({
        device: d,
        step: k,
        action,
        waitsFor: {
          operation: missing.kind === 'F' ? 'F' : missing.kind === 'G' ? 'B or I' : 'I',
          stage: missing.stage,
          microbatch: action.microbatch,
          device: schedule.stageDevice[missing.stage],
        },
      });
      break;
    }
  }
  return {
    makespan,
    start,
    finish,
    busy,
    bubble: makespan === 0 ? 0 : 1 - totalBusy / (devices * makespan),
    stuck,
  };
}
