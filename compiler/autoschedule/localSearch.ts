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
  const epsilon = 1e-9;
  for (let attempt = 0; attempt < budget.evaluations; attempt++) {
    if (makespan <= tables.fillBound + epsilon) break;
    const d = Math.floor(random() * tables.devices);
    const order = orders[d];
    if (order.length < 2) continue;
    const from = Math.floor(random() * order.length);
    const distance = 1 + Math.floor(random() * 4);
    const to = random() < 0.5 ? from - distance : from + distance;
    if (to < 0 || to >= order.length) continue;
    moveWithin(order, from, to);
    const candidate = evaluator.makespan(orders);
    if (candidate < makespan - epsilon) {
      makespan = candidate;
      spread = meanDeviceFinish(tables, evaluator, orders);
      continue;
    }
    if (candidate <= makespan + epsilon) {
      const candidateSpread = meanDeviceFinish(tables, evaluator, orders);
      if (candidateSpread <= spread + epsilon) {
        spread = candidateSpread;
        continue;
      }
    }
    moveWithin(order, to, from);
  }
  return { orders, makespan };
}

function moveWithin(order: Int32Array, from: number, to: number): void {
  const value = order[from];
  if (from < to) order.copyWithin(from, from + 1, to + 1);
  else order.copyWithin(to + 1, to, from);
  order[to] = value;
}
