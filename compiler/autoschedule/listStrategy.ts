// A parameterised list scheduler: the pipeline is simulated under the cost
// model; the device that can start something earliest picks one of its
// candidate actions (per stage, the next F, I and W in microbatch order).
// The knobs are what the papers' hand-made schedules differ in:
//  - priority: the order of F, I and W (I > F > W is ZB-H1's, F > I > W
//    front-loads warm-up, W > ... drains memory early);
//  - patience: how much later a higher-priority action may start and still
//    win over a lower-priority one that could start now (0 = never idle when
//    something is ready; large = strict priority, W only fills true gaps);
//  - activation cap: a per-device limit at or under the user's, which sets
//    the number of warm-up forwards;
//  - stage preference on devices with several stages (later stages first
//    finishes microbatches sooner; earlier first fills the pipe faster).
// The result is only an order; its true makespan comes from the evaluator.

import { OP_F, OP_I, OP_W, type CodeOrders, type ProblemTables } from './orders.ts';

export interface ListStrategy {
  /** rank[op]: 0 = highest priority. */
  readonly rank: readonly [number, number, number];
  /** In units of the mean forward time. */
  readonly patience: number;
  /** Per-device activation cap (≤ the memory limit). */
  readonly cap: readonly number[];
  readonly preferLaterStage: boolean;
}

/** The orders the strategy produces, or undefined when it gets stuck (memory too tight for it). */
export function runListStrategy(tables: ProblemTables, strategy: ListStrategy): CodeOrders | undefined {
  const { stages, microbatches: m, devices, stageDevice, duration, activationDelay, gradientDelay, activation, stagesOf } = tables;
  const finishF = new Float64Array(stages * m).fill(Number.POSITIVE_INFINITY);
  const finishI = new Float64Array(stages * m).fill(Number.POSITIVE_INFINITY);
  const nextOp = [new Int32Array(stages), new Int32Array(stages), new Int32Array(stages)];
  const free = new Float64Array(devices);
  const live = new Float64Array(devices);
  const orders: number[][] = Array.from({ length: devices }, () => []);
  let meanForward = 0;
  for (let s = 0; s < stages; s++) meanForward += duration[s * 3] / stages;
  const patience = strategy.patience * meanForward;
  const epsilon = 1e-9;

  // When stage s's next action of class op could start on its device (Infinity: not known yet).
  const readyTime = (s: number, op: number): number => {
    const mb = nextOp[op][s];
    if (mb >= m) return Number.POSITIVE_INFINITY;
    const pair = s * m + mb;
    if (op === OP_F) {
      const d = stageDevice[s];
      // Keep room for this microbatch on the device's later stages, or a
      // device full of early-chunk activations would wait forever (V, loop).
      let reserve = 0;
      for (const later of stagesOf[d]) if (later > s && nextOp[OP_F][later] < m) reserve += activation[later];
      if (live[d] + activation[s] + reserve > strategy.cap[d] + epsilon) return Number.POSITIVE_INFINITY;
      return s === 0 ? 0 : finishF[pair - m] + activationDelay[s];
    }
    if (op === OP_I) {
      const own = finishF[pair];
      if (s === stages - 1) return own;
      return Math.max(own, finishI[pair + m] + gradientDelay[s]);
    }
    return finishI[pair];
  };

  const total = stages * m * 3;
  for (let scheduled = 0; scheduled < total; scheduled++) {
    // The device able to start something soonest decides next.
    let bestDevice = -1;
    let bestStage = -1;
    let bestOp = -1;
    let bestStart = Number.POSITIVE_INFINITY;
    let bestEarliest = Number.POSITIVE_INFINITY;
    for (let d = 0; d < devices; d++) {
      let earliest = Number.POSITIVE_INFINITY;
      let chosenScore = Number.POSITIVE_INFINITY;
      let chosenStage = -1;
      let chosenOp = -1;
      let chosenStart = 0;
      const own = stagesOf[d];
      for (let i = 0; i < own.length; i++) {
        const s = strategy.preferLaterStage ? own[own.length - 1 - i] : own[i];
        for (let op = 0; op < 3; op++) {
          const ready = readyTime(s, op);
          if (ready === Number.POSITIVE_INFINITY) continue;
          const start = Math.max(free[d], ready);
          if (start < earliest) earliest = start;
          const score = start + patience * strategy.rank[op];
          const better =
            score < chosenScore - epsilon ||
            (Math.abs(score - chosenScore) <= epsilon && strategy.rank[op] < strategy.rank[chosenOp]);
          if (better) {
            chosenScore = score;
            chosenStage = s;
            chosenOp = op;
            chosenStart = start;
          }
        }
      }
      if (earliest < bestEarliest - epsilon) {
        bestEarliest = earliest;
        bestDevice = d;
        bestStage = chosenStage;
        bestOp = chosenOp;
        bestStart = chosenStart;
      }
    }
    if (bestDevice < 0) return undefined;
    const s = bestStage;
    const op = bestOp;
    const mb = nextOp[op][s];
    nextOp[op][s]++;
    const end = bestStart + duration[s * 3 + op];
    free[bestDevice] = end;
    const pair = s * m + mb;
    if (op === OP_F) {
      finishF[pair] = end;
      live[bestDevice] += activation[s];
    } else if (op === OP_I) {
      finishI[pair] = end;
    } else {
      live[bestDevice] -= activation[s];
    }
    orders[bestDevice].push(pair * 3 + op);
  }
  return orders.map((order) => Int32Array.from(order));
}

/** Every priority order of F, I, W as ranks. */
export const PRIORITY_RANKS: readonly (readonly [number, number, number])[] = [
  [1, 0, 2], // I > F > W
  [0, 1, 2], // F > I > W
  [2, 0, 1], // I > W > F
  [0, 2, 1], // F > W > I
  [1, 2, 0], // W > F > I
  [2, 1, 0], // W > I > F
];

export { OP_F, OP_I, OP_W };
