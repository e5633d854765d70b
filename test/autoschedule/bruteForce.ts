// Test helper: the shortest makespan over every valid set of per-device
// orders, by plain enumeration, for checking the exact solver on tiny cases.
// It assumes none of the solver's dominance rules (microbatches may run in
// any order on a stage) and uses only the obvious bound (a device's free time
// plus its remaining work). Each set of orders is visited once, as its
// actions sorted by start time (ties by device), and its makespan is taken
// from orders.ts's evaluator.

import { makeEvaluator, OP_F, OP_I, OP_W, type ProblemTables } from '../../compiler/autoschedule/orders.ts';

export function bruteForceMakespan(tables: ProblemTables): { makespan: number; leaves: number } {
  const { stages: n, microbatches: m, devices, stageDevice, duration, activationDelay, gradientDelay, activation, limit } = tables;
  const evaluator = makeEvaluator(tables);
  const codes = n * m * 3;
  const finish = new Float64Array(codes).fill(Number.NaN);
  const free = new Float64Array(devices);
  const live = new Float64Array(devices);
  const work = new Float64Array(devices);
  for (let s = 0; s < n; s++) work[stageDevice[s]] += m * (duration[s * 3] + duration[s * 3 + 1] + duration[s * 3 + 2]);
  const orders: number[][] = Array.from({ length: devices }, () => []);
  let best = Number.POSITIVE_INFINITY;
  let leaves = 0;
  let placed = 0;
  const startOf = (code: number): number => {
    const op = code % 3;
    const s = Math.floor(code / 3 / m);
    let ready = free[stageDevice[s]];
    const need = (dependency: number, delay: number) => {
      if (Number.isNaN(finish[dependency])) return false;
      ready = Math.max(ready, finish[dependency] + delay);
      return true;
    };
    if (op === OP_F) return s === 0 || need(code - 3 * m, activationDelay[s]) ? ready : Number.NaN;
    if (op === OP_I) return need(code - 1, 0) && (s === n - 1 || need(code + 3 * m, gradientDelay[s])) ? ready : Number.NaN;
    return need(code - 1, 0) ? ready : Number.NaN;
  };
  const visit = (lastStart: number, lastDevice: number) => {
    if (placed === codes) {
      leaves++;
      const makespan = evaluator.makespan(orders.map((order) => Int32Array.from(order)));
      if (makespan < best) best = makespan;
      return;
    }
    for (let d = 0; d < devices; d++) if (free[d] + work[d] >= best - 1e-9) return;
    for (let code = 0; code < codes; code++) {
      if (!Number.isNaN(finish[code])) continue;
      const op = code % 3;
      const s = Math.floor(code / 3 / m);
      const d = stageDevice[s];
      const start = startOf(code);
      if (Number.isNaN(start)) continue;
      if (start < lastStart - 1e-12 || (Math.abs(start - lastStart) <= 1e-12 && d < lastDevice)) continue;
      if (op === OP_F && live[d] + activation[s] > limit[d] + 1e-9) continue;
      const previousFree = free[d];
      const end = start + duration[s * 3 + op];
      finish[code] = end;
      free[d] = end;
      work[d] -= duration[s * 3 + op];
      if (op === OP_F) live[d] += activation[s];
      if (op === OP_W) live[d] -= activation[s];
      orders[d].push(code);
      placed++;
      visit(start, d);
      placed--;
      orders[d].pop();
      if (op === OP_F) live[d] -= activation[s];
      if (op === OP_W) live[d] += activation[s];
      work[d] += duration[s * 3 + op];
      free[d] = previousFree;
      finish[code] = Number.NaN;
    }
  };
  visit(0, 0);
  return { makespan: best, leaves };
}
