// REFERENCE ONLY — not used by the compiler.
//
// A faithful re-implementation, for comparison, of the heuristic in
// zero-bubble's automatic scheduler (sail-sg/zero-bubble-pipeline-parallelism,
// megatron/core/pipeline_parallel/zerobubble/scheduler/zb.py: Graph.manual_order
// and initial_solution, which tries all eight switch combinations and keeps
// the order with the smallest "longest stage time"). It keeps their model:
// one stage per device, a single communication cost `comm` on every edge,
// memory deltas per operation (mem_f on F, mem_b on B, mem_w on W; pipec's
// semantics are mem_f = activation, mem_b = 0, mem_w = -activation), and
// their own completion-time estimate to pick among the eight variants. It
// raises (returns undefined) where theirs raises "Cannot fit memory".
// The bench and the tests time its order with pipec's evaluator, so both
// schedulers are measured by the same clock.

export interface ReferenceConfig {
  readonly stages: number;
  readonly microbatches: number;
  readonly costF: readonly number[];
  readonly costB: readonly number[];
  readonly costW: readonly number[];
  readonly comm: number;
  readonly memF: readonly number[];
  readonly memB: readonly number[];
  readonly memW: readonly number[];
  readonly maxMem: readonly number[];
}

export interface ReferenceOrder {
  /** Per stage, the put order as [type 0=F 1=B 2=W, microbatch]. */
  readonly perStage: readonly (readonly [number, number])[][];
  /** Their "longest stage time" estimate. */
  readonly estimate: number;
}

function manualOrder(
  config: ReferenceConfig,
  allowBubbleBeforeFirstB: boolean,
  prioritizeB: boolean,
  noBubbleGreedy: boolean,
): ReferenceOrder | undefined {
  const nstages = config.stages;
  const nmb = config.microbatches;
  const id = (type: number, stage: number, mb: number) => type * nstages * nmb + stage * nmb + mb;
  const costOf = (type: number, stage: number) => [config.costF, config.costB, config.costW][type][stage];
  const memOf = (type: number, stage: number) => [config.memF, config.memB, config.memW][type][stage];
  const f = new Array<number>(nstages).fill(0);
  const b = new Array<number>(nstages).fill(0);
  const w = new Array<number>(nstages).fill(0);
  const m = new Array<number>(nstages).fill(0);
  const e = new Array<number>(nstages).fill(0);
  const t = new Array<number>(3 * nstages * nmb).fill(0);
  const stageBubble = new Array<number>(nstages).fill(0);
  const maxMem = config.maxMem;
  const comm = config.comm;
  const perStage: [number, number][][] = Array.from({ length: nstages }, () => []);
  const getMaxBubble = () => Math.max(0, ...stageBubble);

  const put = (j: number, type: number) => {
    const i = type === 0 ? f[j] : type === 1 ? b[j] : w[j];
    const cost = costOf(type, j);
    let tmp = e[j] + cost;
    const noBubble = tmp;
    if (j > 0 && type === 0) tmp = Math.max(tmp, t[id(0, j - 1, i)] + comm + cost);
    if (j < nstages - 1 && type === 1) tmp = Math.max(tmp, t[id(1, j + 1, i)] + comm + cost);
    if (f[j] > 0) stageBubble[j] += tmp - noBubble;
    e[j] = tmp;
    t[id(type, j, i)] = tmp;
    m[j] += memOf(type, j);
    if (type === 0) f[j]++;
    else if (type === 1) b[j]++;
    else w[j]++;
    perStage[j].push([type, i]);
  };

  for (let i = 0; i < nmb; i++) {
    if (i === 0) {
      for (let j = 0; j < nstages; j++) put(j, 0);
      const fRequired = new Array<number>(nstages).fill(0);
      let lastT = 0;
      for (let j = nstages - 1; j >= 0; j--) {
        if (j === nstages - 1) {
          lastT = t[id(0, j, i)] + costOf(1, j);
          continue;
        }
        let mem = m[j];
        let cost = e[j];
        for (;;) {
          if (f[j] + fRequired[j] < nmb && mem + memOf(0, j) <= maxMem[j]) {
            if (allowBubbleBeforeFirstB) {
              if (cost + costOf(0, j) > lastT + comm) break;
            } else if (cost >= lastT + comm) break;
            mem += memOf(0, j);
            cost += costOf(0, j);
            fRequired[j]++;
          } else break;
        }
        lastT = Math.max(cost, lastT + comm) + costOf(1, j);
      }
      for (let j = 0; j < nstages; j++) {
        while (j > 0 && fRequired[j] > 0 && fRequired[j] >= fRequired[j - 1] && f[j] + fRequired[j] < nmb) fRequired[j]--;
      }
      for (let j = 0; j < nstages; j++) for (let k = 0; k < fRequired[j]; k++) put(j, 0);
      for (let j = nstages - 1; j >= 0; j--) put(j, 1);
      continue;
    }
    const fRequired = new Array<number>(nstages).fill(0);
    for (let j = 0; j < nstages; j++) {
      if (f[j] >= nmb) continue;
      if (j + 1 < nstages && f[j] >= f[j + 1] + 2 && prioritizeB) {
        const nextPlusFw = e[j + 1] + costOf(0, j + 1) + costOf(1, j + 1) + comm;
        if (e[j] >= nextPlusFw) continue;
        const fMem = memOf(0, j);
        let wCost = 0;
        let wCnt = 0;
        let memWithW = m[j] + fMem;
        while (memWithW > maxMem[j] && w[j] + wCnt < b[j]) {
          wCost += costOf(2, j);
          memWithW += memOf(2, j);
          wCnt++;
        }
        if (e[j] + costOf(0, j) + wCost <= nextPlusFw) {
          fRequired[j] = 1;
          continue;
        }
        if (nextPlusFw - e[j] <= getMaxBubble() - stageBubble[j]) continue;
      }
      fRequired[j] = 1;
    }
    for (let j = nstages - 2; j >= 0; j--) fRequired[j] = Math.min(fRequired[j], fRequired[j + 1]);
    for (let j = 0; j < nstages; j++) {
      if (fRequired[j] === 0) continue;
      while (m[j] + memOf(0, j) > maxMem[j]) {
        if (w[j] >= b[j]) return undefined; // "Cannot fit memory"
        put(j, 2);
      }
      if (j > 0) {
        const arrival = t[id(0, j - 1, f[j])] + comm;
        while (w[j] < b[j] && e[j] + costOf(2, j) <= arrival) put(j, 2);
        if (w[j] < b[j] && e[j] < arrival) {
          if (arrival - e[j] <= getMaxBubble() - stageBubble[j]) {
            if (noBubbleGreedy) put(j, 2);
          } else put(j, 2);
        }
      }
      put(j, 0);
    }
    for (let j = nstages - 1; j >= 0; j--) {
      if (b[j] !== i) throw new Error('reference heuristic: backward out of step');
      while (m[j] + memOf(1, j) > maxMem[j]) {
        if (w[j] >= b[j]) return undefined;
        put(j, 2);
      }
      if (j + 1 < nstages) {
        const arrival = t[id(1, j + 1, i)] + comm;
        while (w[j] < b[j] && e[j] + costOf(2, j) <= arrival) put(j, 2);
        if (w[j] < b[j] && e[j] < arrival) {
          if (arrival - e[j] <= getMaxBubble() - stageBubble[j]) {
            if (noBubbleGreedy) put(j, 2);
          } else put(j, 2);
        }
      }
      if (j === 0 && f[j] === nmb) while (w[j] < b[j]) put(j, 2);
      put(j, 1);
    }
  }
  for (let j = 0; j < nstages; j++) while (w[j] < nmb) put(j, 2);

  let estimate = 0;
  for (let j = 0; j < nstages; j++) {
    estimate = Math.max(estimate, t[id(2, j, nmb - 1)] - t[id(0, j, 0)] + costOf(0, j));
  }
  return { perStage, estimate };
}

/** initial_solution: all eight switch combinations, keep the smallest estimate (first wins ties). */
export function referenceZeroBubbleOrder(config: ReferenceConfig): ReferenceOrder | undefined {
  let best: ReferenceOrder | undefined;
  for (const allowBubbleBeforeFirstB of [true, false]) {
    for (const prioritizeB of [true, false]) {
      for (const noBubbleGreedy of [true, false]) {
        const result = manualOrder(config, allowBubbleBeforeFirstB, prioritizeB, noBubbleGreedy);
        if (result !== undefined && (best === undefined || result.estimate < best.estimate)) best = result;
      }
    }
  }
  return best;
}
