// Local search on per-device orders: move one action a few places earlier or
// later on its device, keep the move when the evaluated makespan drops (or
// stays equal while the devices finish earlier on average, which lets the
// search walk across plateaus). Every kept order has passed the evaluator, so
// it is dependency-correct, deadlock-free and within the memory limit.
// Deterministic: a seeded generator picks the moves.

import type { CodeOrders, Evaluator, ProblemTables } from './orders.ts';

export interface SearchBudget {
  /** Candidate orders evaluated at most. */
  readonly evaluations: number;
  readonly seed: number;
}

export interface ScoredOrders {
  readonly orders: CodeOrders;
  readonly makespan: number;
}

/** mulberry32: small, fast, good enough to pick moves. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function meanDeviceFinish(tables: ProblemTables, evaluator: Evaluator, orders: CodeOrders): number {
  let sum = 0;
  for (let d = 0; d < tables.devices; d++) {
    const order = orders[d];
    sum += evaluator.finish[order[order.length - 1]];
  }
  return sum / tables.devices;
}

export function improveByLocalSearch(
  tables: ProblemTables,
  evaluator: Evaluator,
  start: ScoredOrders,
  budget: SearchBudget,
): ScoredOrders {
  const random = seededRandom(budget.seed);
  const orders = start.orders.map((order) => Int32Array.from(order));
  let makespan = evaluator.makespan(orders);
  if (makespan === Number.POSITIVE_INFINITY) return start;
  let spread = meanDeviceFinish(tables, evaluator, orders);
  let best: ScoredOrders = { orders: orders.map((order) => Int32Array.from(order)), makespan };
  const epsilon = 1e-9;
  // Iterated local search: when a long run of moves finds nothing, kick the
  // current order with one random valid move and descend again; the best
  // order seen is kept throughout.
  const patience = Math.max(4000, 60 * tables.stages * tables.microbatches);
  let sinceImprovement = 0;
  // Idle gaps of the current order per device (positions k where the k-th
  // action starts after the previous one ends), refreshed whenever the
  // current order changes and its times are in the evaluator.
  let gapsByDevice: number[][] = [];
  const refreshGaps = () => {
    const finish = evaluator.finish;
    gapsByDevice = orders.map((order) => {
      const gaps: number[] = [];
      for (let k = 1; k < order.length; k++) {
        const code = order[k];
        const stage = Math.floor(code / 3 / tables.microbatches);
        const started = finish[code] - tables.duration[stage * 3 + (code % 3)];
        if (started > finish[order[k - 1]] + 1e-9) gaps.push(k);
      }
      return gaps;
    });
  };
  refreshGaps();
  const gapMove = (): [number, number, number] | undefined => {
    // Pull an action from a little later into an idle gap of the current order.
    const d = Math.floor(random() * tables.devices);
    const gaps = gapsByDevice[d];
    if (gaps.length === 0) return undefined;
    const to = gaps[Math.floor(random() * gaps.length)];
    const from = to + 1 + Math.floor(random() * 6);
    if (from >= orders[d].length) return undefined;
    return [d, from, to];
  };
  const randomMove = (): [number, number, number] | undefined => {
    const d = Math.floor(random() * tables.devices);
    const order = orders[d];
    if (order.length < 2) return undefined;
    const from = Math.floor(random() * order.length);
    const distance = 1 + Math.floor(random() * 4);
    const to = random() < 0.5 ? from - distance : from + distance;
    if (to < 0 || to >= order.length) return undefined;
    return [d, from, to];
  };
  for (let attempt = 0; attempt < budget.evaluations; attempt++) {
    if (best.makespan <= tables.fillBound + epsilon) break;
    if (sinceImprovement > patience) {
      for (let kicks = 0; kicks < 1; attempt++) {
        const move = randomMove();
        if (move === undefined) continue;
        const [d, from, to] = move;
        moveWithin(orders[d], from, to);
        const candidate = evaluator.makespan(orders);
        if (candidate === Number.POSITIVE_INFINITY) moveWithin(orders[d], to, from);
        else {
          makespan = candidate;
          spread = meanDeviceFinish(tables, evaluator, orders);
          refreshGaps();
          kicks++;
        }
        if (attempt >= budget.evaluations) break;
      }
      sinceImprovement = 0;
    }
    const move = random() < 0.3 ? gapMove() : randomMove();
    if (move === undefined) continue;
    const [d, from, to] = move;
    const order = orders[d];
    moveWithin(order, from, to);
    const candidate = evaluator.makespan(orders);
    sinceImprovement++;
    if (candidate < makespan - epsilon) {
      makespan = candidate;
      refreshGaps();
      spread = meanDeviceFinish(tables, evaluator, orders);
      if (makespan < best.makespan - epsilon) {
        best = { orders: orders.map((o) => Int32Array.from(o)), makespan };
        sinceImprovement = 0;
      }
      continue;
    }
    if (candidate <= makespan + epsilon) {
      const candidateSpread = meanDeviceFinish(tables, evaluator, orders);
      if (candidateSpread <= spread + epsilon) {
        spread = candidateSpread;
        refreshGaps();
        continue;
      }
    }
    moveWithin(order, to, from);
  }
  return best;
}

function moveWithin(order: Int32Array, from: number, to: number): void {
  const value = order[from];
  if (from < to) order.copyWithin(from, from + 1, to + 1);
  else order.copyWithin(to + 1, to, from);
  order[to] = value;
}
