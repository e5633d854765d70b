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
import { actionDuration, dependenciesOf, executionUnits, type Dependency } from './actions.ts';
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
  const { stages, microbatches, stageDevice } = schedule;
  const pairs = stages * microbatches;
  // Finish time of each (stage, microbatch)'s F, of its input gradient (B or
  // I), and of its I alone, in one array: [F | G | I] × pairs. NaN = not yet.
  const done = new Float64Array(3 * pairs).fill(Number.NaN);
  const F = 0;
  const G = pairs;
  const I = 2 * pairs;
  const devices = schedule.devices;
  // Units of execution: overlap groups when they run together, else single
  // actions (encoded as unit k = action k, without allocating).
  const groups = together ? schedule.orders.map((order) => executionUnits(order)) : undefined;
  const unitCount = (d: number) => (groups ? groups[d].length : schedule.orders[d].length);
  const unitFirst = (d: number, u: number) => (groups ? groups[d][u].first : u);
  const unitEnd = (d: number, u: number) => (groups ? groups[d][u].end : u + 1);
  const nextUnit = new Int32Array(devices);
  const free = new Float64Array(devices);
  const busy = new Array<number>(devices).fill(0);
  const start = schedule.orders.map((order) => new Float64Array(order.length).fill(Number.NaN));
  const finish = schedule.orders.map((order) => new Float64Array(order.length).fill(Number.NaN));
  // waiter[key] = device + 1 blocked on that result (at most one device
  // waits for a given result in a structurally valid order; extra waiters
  // go to the overflow map).
  const waiter = new Int32Array(3 * pairs);
  const overflow = new Map<number, number[]>();
  const inRange = (action: ComputeAction) =>
    action.stage >= 0 && action.stage < stages && action.microbatch >= 0 && action.microbatch < microbatches;
  const sendActivation = costs.sendActivation;
  const sendGradient = costs.sendGradient;
  /** The key this action still waits for, or -1 with `readyAt` raised to when its inputs are there. */
  let readyAt = 0;
  // Per stage, what its F and its B/I wait for on other stages (one
  // neighbour, or the vocabulary shards' broadcast, statistics and summed
  // gradient: compiler/schedule/actions.ts).
  const forwardNeeds = Array.from({ length: stages }, (_, s) => dependenciesOf(schedule, 'F', s));
  const backwardNeeds = Array.from({ length: stages }, (_, s) => dependenciesOf(schedule, 'B', s));
  const delayOf = (dependency: Dependency) => (dependency.crossDevice ? (dependency.kind === 'F' ? sendActivation[dependency.stage] : sendGradient[dependency.stage]) ?? 0 : 0);
  const missing = (action: ComputeAction): number => {
    const s = action.stage;
    const i = action.microbatch;
    const pair = s * microbatches + i;
    switch (action.operation) {
      case 'F':
      case 'B':
      case 'I': {
        for (const dependency of action.operation === 'F' ? forwardNeeds[s] : backwardNeeds[s]) {
          const key = (dependency.kind === 'F' ? F : G) + dependency.stage * microbatches + i;
          const t = done[key];
          if (Number.isNaN(t)) return key;
          readyAt = Math.max(readyAt, t + delayOf(dependency));
        }
        return -1;
      }
      case 'W': {
        const t = done[I + pair];
        if (Number.isNaN(t)) return I + pair;
        readyAt = Math.max(readyAt, t);
        return -1;
      }
      case 'R':
      case 'O':
      case 'L':
        // Same device as their F; validation checks they come after it.
        return -1;
    }
  };
  const wake = (key: number, worklist: number[], self: number) => {
    const w = waiter[key];
    if (w !== 0) {
      waiter[key] = 0;
      if (w - 1 !== self) worklist.push(w - 1);
    }
    const more = overflow.get(key);
    if (more) {
      overflow.delete(key);
      for (const d of more) if (d !== self) worklist.push(d);
    }
  };

  const worklist: number[] = [];
  for (let d = devices - 1; d >= 0; d--) worklist.push(d);
  while (worklist.length > 0) {
    const d = worklist.pop()!;
    const order = schedule.orders[d];
    const units = unitCount(d);
    advance: while (nextUnit[d] < units) {
      const first = unitFirst(d, nextUnit[d]);
      const last = unitEnd(d, nextUnit[d]);
      readyAt = free[d];
      for (let k = first; k < last; k++) {
        const action = order[k];
        if (!inRange(action)) break advance; // validation reports it; timing cannot place it
        const key = missing(action);
        if (key >= 0) {
          if (waiter[key] === 0 || waiter[key] === d + 1) waiter[key] = d + 1;
          else {
            const list = overflow.get(key);
            if (list) list.push(d);
            else overflow.set(key, [d]);
          }
          break advance;
        }
      }
      const ready = readyAt;
      let duration = 0;
      for (let k = first; k < last; k++) {
        duration = Math.max(duration, actionDuration(costs, order[k].operation, order[k].stage));
      }
      const end = ready + duration;
      free[d] = end;
      busy[d] += duration;
      nextUnit[d]++;
      for (let k = first; k < last; k++) {
        const action = order[k];
        start[d][k] = ready;
        finish[d][k] = end;
        const pair = action.stage * microbatches + action.microbatch;
        if (action.operation === 'F') {
          if (Number.isNaN(done[F + pair])) done[F + pair] = end;
          wake(F + pair, worklist, d);
        } else if (action.operation === 'B' || action.operation === 'I') {
          if (Number.isNaN(done[G + pair])) done[G + pair] = end;
          wake(G + pair, worklist, d);
          if (action.operation === 'I') {
            if (Number.isNaN(done[I + pair])) done[I + pair] = end;
            wake(I + pair, worklist, d);
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
    if (nextUnit[d] >= unitCount(d)) continue;
    for (let k = unitFirst(d, nextUnit[d]); k < unitEnd(d, nextUnit[d]); k++) {
      const action = schedule.orders[d][k];
      if (!inRange(action)) break;
      const key = missing(action);
      if (key < 0) continue;
      const kind = key < G ? 'F' : key < I ? 'B or I' : 'I';
      const pair = key % pairs;
      const stage = Math.floor(pair / microbatches);
      stuck.push({
        device: d,
        step: k,
        action,
        waitsFor: { operation: kind, stage, microbatch: action.microbatch, device: stageDevice[stage] },
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
