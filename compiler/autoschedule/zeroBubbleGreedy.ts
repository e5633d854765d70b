// Zero-bubble's greedy construction (Qi et al., "Zero Bubble Pipeline
// Parallelism", the heuristic their automatic scheduler starts from),
// re-derived for pipec's cost model: one stage per device, split backward,
// an activation live from its F until its W. The idea, in our words:
//  - microbatch 0 runs its F down the pipe; each stage then adds warm-up
//    forwards until the moment the first backward reaches it (or until
//    memory is full), smoothed so no stage warms up more than the previous;
//  - in steady state each stage runs one F and one I per microbatch; before
//    each, it fills the time it would wait for the input (activation from
//    upstream, gradient from downstream) with pending W's, and runs W's when
//    memory is needed for the next F;
//  - a stage that is two or more forwards ahead of the next may skip its F
//    ("prioritize I") when the next stage would otherwise idle, unless that
//    would make its own accumulated bubble exceed the worst stage's.
// The three switches (allow a bubble before the first I, prioritize I, fill
// with W even when waiting costs nothing extra) give eight variants; the
// scheduler tries them all. Timing here is the greedy's own estimate; the
// evaluator re-times the order exactly.

import { OP_F, OP_I, OP_W, type CodeOrders, type ProblemTables } from './orders.ts';

export interface ZeroBubbleSwitches {
  readonly allowBubbleBeforeFirstI: boolean;
  readonly prioritizeI: boolean;
  readonly fillEvenWithoutBubble: boolean;
}

export const ZERO_BUBBLE_SWITCHES: readonly ZeroBubbleSwitches[] = [true, false].flatMap((allowBubbleBeforeFirstI) =>
  [true, false].flatMap((prioritizeI) =>
    [true, false].map((fillEvenWithoutBubble) => ({ allowBubbleBeforeFirstI, prioritizeI, fillEvenWithoutBubble })),
  ),
);

/** Orders per device, or undefined when the greedy runs out of memory (it never waits for memory). */
export function zeroBubbleGreedyOrders(tables: ProblemTables, switches: ZeroBubbleSwitches): CodeOrders | undefined {
  const { stages: n, microbatches: m, duration, activationDelay, gradientDelay, activation, stageDevice } = tables;
  const limit = Array.from({ length: n }, (_, s) => tables.limit[stageDevice[s]]);
  const done = [new Int32Array(n), new Int32Array(n), new Int32Array(n)]; // per op, per stage
  const finishAt = [new Float64Array(n * m), new Float64Array(n * m)]; // F, I finish times (0 = not yet)
  const free = new Float64Array(n);
  const live = new Float64Array(n);
  const bubble = new Float64Array(n);
  const order: number[][] = Array.from({ length: n }, () => []);
  const cost = (s: number, op: number) => duration[s * 3 + op];
  const worstBubble = () => bubble.reduce((a, b) => Math.max(a, b), 0);
  const pendingW = (s: number) => done[OP_W][s] < done[OP_I][s];

  const run = (s: number, op: number) => {
    const mb = done[op][s];
    const earliest = free[s] + cost(s, op);
    let finish = earliest;
    if (op === OP_F && s > 0) finish = Math.max(finish, finishAt[OP_F][(s - 1) * m + mb] + activationDelay[s] + cost(s, op));
    if (op === OP_I && s < n - 1) finish = Math.max(finish, finishAt[OP_I][(s + 1) * m + mb] + gradientDelay[s] + cost(s, op));
    if (done[OP_F][s] > 0) bubble[s] += finish - earliest;
    free[s] = finish;
    if (op !== OP_W) finishAt[op][s * m + mb] = finish;
    if (op === OP_F) live[s] += activation[s];
    if (op === OP_W) live[s] -= activation[s];
    done[op][s]++;
    order[s].push((s * m + mb) * 3 + op);
  };

  /** Fill the wait for an input arriving at `arrival` with W's; false when memory cannot be freed. */
  const fillBefore = (s: number, arrival: number) => {
    while (pendingW(s) && free[s] + cost(s, OP_W) <= arrival) run(s, OP_W);
    if (pendingW(s) && free[s] < arrival) {
      const gap = arrival - free[s];
      if (gap > worstBubble() - bubble[s] || switches.fillEvenWithoutBubble) run(s, OP_W);
    }
  };
  const makeRoom = (s: number, needed: number): boolean => {
    while (live[s] + needed > limit[s] + 1e-9) {
      if (!pendingW(s)) return false;
      run(s, OP_W);
    }
    return true;
  };

  // Microbatch 0 and the warm-up forwards.
  for (let s = 0; s < n; s++) {
    if (!makeRoom(s, activation[s])) return undefined;
    run(s, OP_F);
  }
  const warmUp = new Int32Array(n);
  let firstGradientAt = finishAt[OP_F][(n - 1) * m] + cost(n - 1, OP_I);
  for (let s = n - 2; s >= 0; s--) {
    let memory = live[s];
    let clock = free[s];
    const gradientArrives = firstGradientAt + gradientDelay[s];
    while (done[OP_F][s] + warmUp[s] < m && memory + activation[s] <= limit[s] + 1e-9) {
      if (switches.allowBubbleBeforeFirstI ? clock + cost(s, OP_F) > gradientArrives : clock >= gradientArrives) break;
      memory += activation[s];
      clock += cost(s, OP_F);
      warmUp[s]++;
    }
    firstGradientAt = Math.max(clock, gradientArrives) + cost(s, OP_I);
  }
  for (let s = 1; s < n; s++) {
    while (warmUp[s] > 0 && warmUp[s] >= warmUp[s - 1] && done[OP_F][s] + warmUp[s] < m) warmUp[s]--;
  }
  for (let s = 0; s < n; s++) for (let k = 0; k < warmUp[s]; k++) run(s, OP_F);
  for (let s = n - 1; s >= 0; s--) run(s, OP_I);

  // Steady state and cool-down, one microbatch's I per round.
  for (let mb = 1; mb < m; mb++) {
    const wantsF = new Uint8Array(n);
    for (let s = 0; s < n; s++) {
      if (done[OP_F][s] >= m) continue;
      wantsF[s] = 1;
      if (!switches.prioritizeI || s + 1 >= n || done[OP_F][s] < done[OP_F][s + 1] + 2) continue;
      const nextStageBusyUntil = free[s + 1] + cost(s + 1, OP_F) + cost(s + 1, OP_I) + gradientDelay[s];
      if (free[s] >= nextStageBusyUntil) {
        wantsF[s] = 0;
        continue;
      }
      let memory = live[s] + activation[s];
      let extraW = 0;
      for (let k = done[OP_W][s]; memory > limit[s] && k < done[OP_I][s]; k++) {
        extraW += cost(s, OP_W);
        memory -= activation[s];
      }
      if (free[s] + cost(s, OP_F) + extraW <= nextStageBusyUntil) continue;
      if (nextStageBusyUntil - free[s] <= worstBubble() - bubble[s]) wantsF[s] = 0;
    }
    for (let s = n - 2; s >= 0; s--) wantsF[s] = Math.min(wantsF[s], wantsF[s + 1]);
    for (let s = 0; s < n; s++) {
      if (!wantsF[s]) continue;
      if (!makeRoom(s, activation[s])) return undefined;
      if (s > 0) fillBefore(s, finishAt[OP_F][(s - 1) * m + done[OP_F][s]] + activationDelay[s]);
      run(s, OP_F);
    }
    for (let s = n - 1; s >= 0; s--) {
      if (done[OP_I][s] !== mb) throw new Error('zeroBubbleGreedyOrders: backward out of step');
      if (s + 1 < n) fillBefore(s, finishAt[OP_I][(s + 1) * m + mb] + gradientDelay[s]);
      if (s === 0 && done[OP_F][s] === m) while (pendingW(s)) run(s, OP_W);
      run(s, OP_I);
    }
  }
  for (let s = 0; s < n; s++) while (done[OP_W][s] < m) run(s, OP_W);

  const orders: CodeOrders = Array.from({ length: tables.devices }, () => new Int32Array(0));
  for (let s = 0; s < n; s++) orders[stageDevice[s]] = Int32Array.from(order[s]);
  return orders;
}
