// `schedule auto(..., exact: true)`: branch and bound over per-device orders
// of F, I and W that proves the shortest makespan (or, past its budget,
// returns the best order found and a lower bound). Same problem as the
// heuristic portfolio in autoSchedule.ts: the same tables, the same timing
// rule as orders.ts's evaluator (an action starts when its device is free
// and its inputs have arrived, communication delays included), the same
// activation count (an F adds its stage's activation when it starts, a W
// removes it when it ends; the running total per device stays within the
// limit). Self-contained: it reads only orders.ts.
//
// Search space. A set of per-device orders is built action by action. Which
// device is extended next is a function of the state, not a choice: the
// unfinished device that is free earliest and not already committed. That
// device either appends an action whose inputs have arrived, or commits to a
// next action still waiting on another device (it is appended the moment its
// input is scheduled). Every valid set of orders is produced exactly once
// this way, and the state after any prefix depends only on the orders so far
// (counts of F, I, W per stage, each device's free time, the arrival times
// of inputs sent but not yet consumed, and the commitments), never on the
// path, which is what makes the memo below sound.
//
// Dominance, microbatch order: on each stage the F's run in increasing
// microbatch order, and so do the I's and the W's. No optimum is lost.
// Microbatches are interchangeable: every microbatch of a stage has the same
// F, I and W time and the same activation. Take any valid timed schedule and,
// per stage and operation, give the k-th action in time the label k. Every
// dependency (F(i,s) after F(i,s-1) plus delay; I(i,s) after F(i,s) and after
// I(i,s+1) plus delay; W(i,s) after I(i,s)) holds for every i with the same
// label on both ends. For such x_i ≥ y_i for all i, the k-th smallest x is at
// least the k-th smallest y, so the sorted labelling satisfies every
// dependency too. Each device still runs the same operations of the same
// stages at the same times, so its live activations and the makespan are
// unchanged. The state therefore needs only counts, not sets, per stage.
//
// Dominance, states: two states with the same counts and commitments have
// the same completions (memory depends only on the order, and the orders
// left to choose are the same); timing is monotone, so the one whose free and
// arrival times are all no later has a completion at least as short. A state
// another visited state dominates is dropped (the memo keeps, per counts and
// commitments, a bounded list of time vectors).
//
// Bounds: the longest remaining dependency chain (each remaining action's
// earliest start from what is scheduled, plus its own time, plus the longest
// chain of actions that must follow it), and per device, the earliest start
// of its remaining work plus that work plus the least chain after it (for the
// F and I only, whose followers include at least their W). On a device with
// one stage the activation limit is a dependency too: with room for L
// activations, F(k) waits for W(k - L) (see memoryLag below), which is what
// makes the bound bite under tight limits.

import { makeEvaluator, OP_F, OP_I, OP_W, type CodeOrders, type ProblemTables } from './orders.ts';

export interface ExactOptions {
  /** A valid order to beat (the heuristic's); the search prunes against its makespan. */
  readonly incumbent?: CodeOrders;
  /**
   * Search nodes before giving up on a proof (default 400,000, a few
   * seconds). Nodes rather than time decide by default, so a verdict is the
   * same on any machine.
   */
  readonly nodeBudget?: number;
  /** Milliseconds before giving up on a proof (default 60,000: only a guard for a very slow machine). */
  readonly timeBudgetMs?: number;
  /**
   * Unproven, spend half the nodes raising the lower bound (default true).
   * False gives every node to the search for a better order (auto's polish).
   */
  readonly raiseBound?: boolean;
}

export interface ExactResult {
  /** The best order found (the incumbent's when nothing beats it); undefined when no order fits. */
  readonly orders: CodeOrders | undefined;
  /** Its makespan under the evaluator's rules (+Infinity when none fits). */
  readonly makespan: number;
  /** True when no order is shorter than `makespan` (the search finished within its budget). */
  readonly proven: boolean;
  /** No order is shorter than this: equal to makespan when proven. */
  readonly lowerBound: number;
  readonly nodes: number;
  readonly ms: number;
  /** More compute actions than EXACT_MAX_ACTIONS: nothing was searched, the bound is the root's. */
  readonly tooLarge: boolean;
}

/**
 * Compute actions (3 · stages · microbatches) the search takes on. Each node
 * costs time linear in them, so a budget's worth of nodes past this takes
 * minutes; p=8, m=32 is the largest grid-like shape inside.
 */
export const EXACT_MAX_ACTIONS = 768;

const EPSILON = 1e-9;
/** Among a device's next actions ready at the same time, the one tried first: I (it frees the device below), F, W. */
const TIE_ORDER = [OP_I, OP_F, OP_W] as const;
const MEMO_VECTORS_PER_KEY = 48;
const MEMO_VECTORS_TOTAL = 1_500_000;

export function solveExactly(tables: ProblemTables, options: ExactOptions = {}): ExactResult {
  const started = Date.now();
  const { stages: n, microbatches: m, devices, stageDevice, duration, activationDelay, gradientDelay, activation, limit, stagesOf } = tables;
  const nodeBudget = options.nodeBudget ?? 400_000;
  const timeBudgetMs = options.timeBudgetMs ?? 60_000;

  // done[op * n + s]: how many of stage s's actions of this kind are in the orders (microbatches 0..done-1).
  const done = new Int32Array(3 * n);
  const finishF = new Float64Array(n * m);
  const finishI = new Float64Array(n * m);
  const finishW = new Float64Array(n * m);
  const free = new Float64Array(devices);
  const live = new Float64Array(devices);
  const work = new Float64Array(devices);
  const actionsLeft = new Int32Array(devices);
  // commit[d]: stage * 3 + op of the device's chosen next action, waiting on another device; -1 none.
  const commit = new Int32Array(devices).fill(-1);
  const orders: Int32Array[] = stagesOf.map((own) => new Int32Array(own.length * m * 3));
  const length = new Int32Array(devices);
  for (let s = 0; s < n; s++) {
    const d = stageDevice[s];
    work[d] += m * (duration[s * 3] + duration[s * 3 + 1] + duration[s * 3 + 2]);
    actionsLeft[d] += 3 * m;
  }
  const crossForward = new Uint8Array(n); // stage s's F receives from another device
  const crossBackward = new Uint8Array(n); // stage s's I receives from another device
  for (let s = 0; s < n; s++) {
    crossForward[s] = s > 0 && stageDevice[s - 1] !== stageDevice[s] ? 1 : 0;
    crossBackward[s] = s < n - 1 && stageDevice[s + 1] !== stageDevice[s] ? 1 : 0;
  }

  // Memory as precedence: on a device holding one stage, in-order F's and
  // W's and a limit of `lag` activations mean F(k) cannot start before
  // W(k - lag) has ended (the activation count after F(k) starts is k + 1
  // minus the W's done). 0: no such edge (several stages share the device).
  const memoryLag = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    if (stagesOf[stageDevice[s]].length === 1 && activation[s] > 0) memoryLag[s] = Math.max(0, Math.floor(limit[stageDevice[s]] / activation[s] + EPSILON));
  }
  // Tails: the longest chain of work that must follow an action's end, in
  // the in-order search space (so the next microbatch's same action follows
  // too, and a W is followed by the F it makes room for). Static: they
  // depend on the problem only. Microbatch k's tails need only k' > k's, and
  // on one k, W's first, then I's down the stages, then F's up them.
  const tailF = new Float64Array(n * m);
  const tailI = new Float64Array(n * m);
  const tailW = new Float64Array(n * m);
  for (let k = m - 1; k >= 0; k--) {
    for (let s = 0; s < n; s++) {
      let tail = k < m - 1 ? duration[s * 3 + OP_W] + tailW[s * m + k + 1] : 0;
      const lag = memoryLag[s];
      if (lag > 0 && k + lag < m) tail = Math.max(tail, duration[s * 3 + OP_F] + tailF[s * m + k + lag]);
      tailW[s * m + k] = tail;
    }
    for (let s = 0; s < n; s++) {
      let tail = duration[s * 3 + OP_W] + tailW[s * m + k];
      if (k < m - 1) tail = Math.max(tail, duration[s * 3 + OP_I] + tailI[s * m + k + 1]);
      if (s > 0) tail = Math.max(tail, gradientDelay[s - 1] + duration[(s - 1) * 3 + OP_I] + tailI[(s - 1) * m + k]);
      tailI[s * m + k] = tail;
    }
    for (let s = n - 1; s >= 0; s--) {
      let tail = duration[s * 3 + OP_I] + tailI[s * m + k];
      if (k < m - 1) tail = Math.max(tail, duration[s * 3 + OP_F] + tailF[s * m + k + 1]);
      if (s < n - 1) tail = Math.max(tail, activationDelay[s + 1] + duration[(s + 1) * 3 + OP_F] + tailF[(s + 1) * m + k]);
      tailF[s * m + k] = tail;
    }
  }

  const evaluator = makeEvaluator(tables);
  let best = Number.POSITIVE_INFINITY;
  let bestOrders: CodeOrders | undefined;
  if (options.incumbent !== undefined) {
    best = evaluator.makespan(options.incumbent);
    if (Number.isFinite(best)) bestOrders = options.incumbent.map((order) => Int32Array.from(order));
  }
  const tooLarge = n * m * 3 > EXACT_MAX_ACTIONS;

  // ── lower bound of the current state ──
  const headF = new Float64Array(n * m);
  const headI = new Float64Array(n * m);
  const headW = new Float64Array(n * m);
  const deviceHead = new Float64Array(devices);
  const deviceHeadFI = new Float64Array(devices);
  const deviceWorkFI = new Float64Array(devices);
  const deviceTailFI = new Float64Array(devices);
  // Two passes: the first knows only the W's already scheduled for the
  // memory edges W(k - lag) → F(k); the second uses the first's W heads.
  const lowerBound = (): number => {
    let bound = 0;
    for (let pass = 0; pass < 2; pass++) bound = Math.max(bound, headPass(pass));
    return bound;
  };
  const headPass = (pass: number): number => {
    let bound = 0;
    deviceHead.fill(Number.POSITIVE_INFINITY);
    deviceHeadFI.fill(Number.POSITIVE_INFINITY);
    deviceTailFI.fill(Number.POSITIVE_INFINITY);
    deviceWorkFI.fill(0);
    for (let d = 0; d < devices; d++) if (free[d] > bound) bound = free[d];
    for (let s = 0; s < n; s++) {
      const d = stageDevice[s];
      const f = duration[s * 3 + OP_F];
      let previous = free[d];
      for (let k = done[OP_F * n + s]; k < m; k++) {
        let head = previous;
        if (s > 0) {
          const arrival = (k < done[OP_F * n + s - 1] ? finishF[(s - 1) * m + k] : headF[(s - 1) * m + k] + duration[(s - 1) * 3 + OP_F]) + activationDelay[s];
          if (arrival > head) head = arrival;
        }
        const lag = memoryLag[s];
        if (lag > 0 && k >= lag) {
          const w = k - lag;
          const room = w < done[OP_W * n + s] ? finishW[s * m + w] : pass > 0 ? headW[s * m + w] + duration[s * 3 + OP_W] : 0;
          if (room > head) head = room;
        }
        headF[s * m + k] = head;
        previous = head + f;
        const through = previous + tailF[s * m + k];
        if (through > bound) bound = through;
        if (head < deviceHeadFI[d]) deviceHeadFI[d] = head;
        const tail = tailF[s * m + k];
        if (tail < deviceTailFI[d]) deviceTailFI[d] = tail;
        deviceWorkFI[d] += f;
      }
    }
    for (let s = n - 1; s >= 0; s--) {
      const d = stageDevice[s];
      const i = duration[s * 3 + OP_I];
      let previous = free[d];
      for (let k = done[OP_I * n + s]; k < m; k++) {
        let head = previous;
        const own = k < done[OP_F * n + s] ? finishF[s * m + k] : headF[s * m + k] + duration[s * 3 + OP_F];
        if (own > head) head = own;
        if (s < n - 1) {
          const arrival = (k < done[OP_I * n + s + 1] ? finishI[(s + 1) * m + k] : headI[(s + 1) * m + k] + duration[(s + 1) * 3 + OP_I]) + gradientDelay[s];
          if (arrival > head) head = arrival;
        }
        headI[s * m + k] = head;
        previous = head + i;
        const through = previous + tailI[s * m + k];
        if (through > bound) bound = through;
        if (head < deviceHeadFI[d]) deviceHeadFI[d] = head;
        const tail = tailI[s * m + k];
        if (tail < deviceTailFI[d]) deviceTailFI[d] = tail;
        deviceWorkFI[d] += i;
      }
    }
    for (let s = 0; s < n; s++) {
      const d = stageDevice[s];
      const w = duration[s * 3 + OP_W];
      let previous = free[d];
      for (let k = done[OP_W * n + s]; k < m; k++) {
        let head = previous;
        const own = k < done[OP_I * n + s] ? finishI[s * m + k] : headI[s * m + k] + duration[s * 3 + OP_I];
        if (own > head) head = own;
        headW[s * m + k] = head;
        previous = head + w;
        const through = previous + tailW[s * m + k];
        if (through > bound) bound = through;
        if (head < deviceHead[d]) deviceHead[d] = head;
      }
    }
    for (let d = 0; d < devices; d++) {
      if (actionsLeft[d] === 0) continue;
      const head = Math.min(deviceHead[d], deviceHeadFI[d]);
      if (head + work[d] > bound) bound = head + work[d];
      if (deviceWorkFI[d] > 0) {
        const through = deviceHeadFI[d] + deviceWorkFI[d] + deviceTailFI[d];
        if (through > bound) bound = through;
      }
    }
    return bound;
  };

  // ── memo of visited states ──
  const memo = new Map<string, Float64Array[]>();
  let memoVectors = 0;
  const frontier: number[] = [];
  const keyParts: number[] = [];
  const dominated = (): boolean => {
    keyParts.length = 0;
    for (let k = 0; k < 3 * n; k++) keyParts.push(done[k]);
    for (let d = 0; d < devices; d++) keyParts.push(commit[d]);
    const key = keyParts.join(',');
    frontier.length = 0;
    for (let d = 0; d < devices; d++) frontier.push(free[d]);
    for (let s = 0; s < n; s++) {
      const d = stageDevice[s];
      if (crossForward[s]) {
        for (let k = done[OP_F * n + s]; k < done[OP_F * n + s - 1]; k++) frontier.push(Math.max(free[d], finishF[(s - 1) * m + k] + activationDelay[s]));
      }
      if (crossBackward[s]) {
        for (let k = done[OP_I * n + s]; k < done[OP_I * n + s + 1]; k++) frontier.push(Math.max(free[d], finishI[(s + 1) * m + k] + gradientDelay[s]));
      }
    }
    const seen = memo.get(key);
    if (seen !== undefined) {
      for (const vector of seen) {
        let covers = true;
        for (let k = 0; k < vector.length; k++) {
          if (vector[k] > frontier[k] + EPSILON) { covers = false; break; }
        }
        if (covers) return true;
      }
    }
    if (memoVectors >= MEMO_VECTORS_TOTAL) return false;
    const vector = Float64Array.from(frontier);
    if (seen === undefined) memo.set(key, [vector]);
    else {
      // Drop the vectors the new one dominates, then keep the list short.
      let kept = 0;
      for (let j = 0; j < seen.length; j++) {
        const other = seen[j];
        let worse = true;
        for (let k = 0; k < other.length; k++) {
          if (other[k] < frontier[k] - EPSILON) { worse = false; break; }
        }
        if (!worse) seen[kept++] = other;
      }
      memoVectors -= seen.length - kept;
      seen.length = kept;
      if (seen.length >= MEMO_VECTORS_PER_KEY) { seen.shift(); memoVectors--; }
      seen.push(vector);
    }
    memoVectors++;
    return false;
  };

  // ── appending actions ──
  // Undo log: device appended to, its free time before, whether it was a commitment.
  const undoDevice: number[] = [];
  const undoFree: number[] = [];
  const undoCommit: number[] = [];
  /** Start time of stage s's next op on its device when its inputs are in the orders; NaN when one is not yet. */
  const startOf = (s: number, op: number): number => {
    const d = stageDevice[s];
    let ready = free[d];
    if (op === OP_F) {
      const k = done[OP_F * n + s];
      if (s > 0) {
        if (done[OP_F * n + s - 1] <= k) return Number.NaN;
        const t = finishF[(s - 1) * m + k] + activationDelay[s];
        if (t > ready) ready = t;
      }
    } else if (op === OP_I) {
      const k = done[OP_I * n + s];
      if (s < n - 1) {
        if (done[OP_I * n + s + 1] <= k) return Number.NaN;
        const t = finishI[(s + 1) * m + k] + gradientDelay[s];
        if (t > ready) ready = t;
      }
    }
    return ready;
  };
  const append = (s: number, op: number, start: number, committed: number) => {
    const d = stageDevice[s];
    const k = done[op * n + s];
    const end = start + duration[s * 3 + op];
    undoDevice.push(d);
    undoFree.push(free[d]);
    undoCommit.push(committed);
    free[d] = end;
    if (op === OP_F) { finishF[s * m + k] = end; live[d] += activation[s]; }
    else if (op === OP_I) finishI[s * m + k] = end;
    else { finishW[s * m + k] = end; live[d] -= activation[s]; }
    done[op * n + s] = k + 1;
    work[d] -= duration[s * 3 + op];
    actionsLeft[d]--;
    orders[d][length[d]++] = (s * m + k) * 3 + op;
  };
  const undoOne = () => {
    const d = undoDevice.pop()!;
    const previousFree = undoFree.pop()!;
    const committed = undoCommit.pop()!;
    const code = orders[d][--length[d]];
    const op = code % 3;
    const s = Math.floor(code / 3 / m);
    done[op * n + s]--;
    if (op === OP_F) live[d] -= activation[s];
    else if (op === OP_W) live[d] += activation[s];
    work[d] += duration[s * 3 + op];
    actionsLeft[d]++;
    free[d] = previousFree;
    if (committed >= 0) commit[d] = committed;
  };
  /** Append every committed action whose input has now arrived (one may enable another). */
  const releaseCommitted = () => {
    for (let changed = true; changed;) {
      changed = false;
      for (let d = 0; d < devices; d++) {
        const c = commit[d];
        if (c < 0) continue;
        const s = Math.floor(c / 3);
        const op = c % 3;
        const start = startOf(s, op);
        if (Number.isNaN(start)) continue;
        commit[d] = -1;
        append(s, op, start, c);
        changed = true;
      }
    }
  };

  let nodes = 0;
  let runNodes = 0;
  let runBudget = 0;
  let outOfBudget = false;
  // Prune what cannot finish before this: the best makespan so far, or lower in a run that only raises the bound.
  let threshold = best;
  const totalActions = n * m * 3;
  let scheduled = 0;

  const explore = (): void => {
    if (outOfBudget) return;
    nodes++;
    runNodes++;
    if ((runNodes & 1023) === 0 && (runNodes >= runBudget || Date.now() - started > timeBudgetMs)) { outOfBudget = true; return; }
    if (scheduled === totalActions) {
      let makespan = 0;
      for (let d = 0; d < devices; d++) if (free[d] > makespan) makespan = free[d];
      if (makespan < threshold - EPSILON) {
        best = makespan;
        threshold = makespan;
        bestOrders = orders.map((order) => order.slice());
      }
      return;
    }
    if (lowerBound() >= threshold - EPSILON) return;
    if (dominated()) return;
    // The device to extend: free earliest among the unfinished, uncommitted ones.
    let chosen = -1;
    for (let d = 0; d < devices; d++) {
      if (actionsLeft[d] === 0 || commit[d] >= 0) continue;
      if (chosen < 0 || free[d] < free[chosen] - EPSILON) chosen = d;
    }
    if (chosen < 0) return; // every unfinished device waits on another: a circular wait
    const d = chosen;
    // Its possible next actions, those ready soonest first, I before F before W on ties.
    const localStage: number[] = [];
    const localOp: number[] = [];
    const localStart: number[] = [];
    for (const s of stagesOf[d]) {
      for (const op of TIE_ORDER) {
        const k = done[op * n + s];
        if (k >= m) continue;
        if (op === OP_F) {
          if (live[d] + activation[s] > limit[d] + EPSILON) continue;
          if (s > 0 && !crossForward[s] && done[OP_F * n + s - 1] <= k) continue; // its input would come later on this device
        } else if (op === OP_I) {
          if (done[OP_F * n + s] <= k) continue;
          if (s < n - 1 && !crossBackward[s] && done[OP_I * n + s + 1] <= k) continue;
        } else if (done[OP_I * n + s] <= k) continue;
        localStage.push(s);
        localOp.push(op);
        localStart.push(startOf(s, op));
      }
    }
    const count = localStage.length;
    const ranking = Array.from({ length: count }, (_, j) => j).sort((a, b) => {
      const sa = Number.isNaN(localStart[a]) ? Number.POSITIVE_INFINITY : localStart[a];
      const sb = Number.isNaN(localStart[b]) ? Number.POSITIVE_INFINITY : localStart[b];
      return sa - sb || a - b;
    });
    for (const j of ranking) {
      const s = localStage[j];
      const op = localOp[j];
      const start = localStart[j];
      if (Number.isNaN(start)) {
        commit[d] = s * 3 + op;
        explore();
        commit[d] = -1;
      } else {
        const mark = undoDevice.length;
        append(s, op, start, -1);
        releaseCommitted();
        scheduled += undoDevice.length - mark;
        explore();
        scheduled -= undoDevice.length - mark;
        while (undoDevice.length > mark) undoOne();
      }
      if (outOfBudget) return;
    }
  };

  // One run: an exhaustive search below `limitTo`. Finished, it proves no
  // order is shorter than the threshold it ended with (limitTo, or a better
  // order it found). The memo is per run: a state is pruned only against
  // states whose subtrees this same run explores in full.
  const run = (limitTo: number, budget: number): boolean => {
    memo.clear();
    memoVectors = 0;
    threshold = limitTo;
    runNodes = 0;
    runBudget = budget;
    outOfBudget = false;
    explore();
    return !outOfBudget;
  };
  let bound = lowerBound();
  if (tooLarge) return { orders: bestOrders, makespan: best, proven: false, lowerBound: Math.min(best, bound), nodes: 0, ms: Date.now() - started, tooLarge };
  const raiseBound = options.raiseBound ?? true;
  let proven = run(best, raiseBound ? Math.ceil(nodeBudget / 2) : nodeBudget);
  if (proven) bound = best;
  // Not proven: the root bound is usually weak, so spend the other half
  // raising it, bisecting between it and the best makespan. A run below T
  // that finishes proves the optimum is at least T (or, when it found an
  // order under T, that the order is optimal).
  const probes = 5;
  let unprovable = best;
  for (let probe = 0; raiseBound && !proven && Number.isFinite(best) && probe < probes && Date.now() - started <= timeBudgetMs && unprovable - bound > EPSILON * 10; probe++) {
    const target = bound + (unprovable - bound) / 2;
    const before = best;
    if (run(target, Math.ceil(nodeBudget / 2 / probes))) {
      if (best < before - EPSILON) { proven = true; bound = best; }
      else bound = target;
    } else unprovable = Math.min(target, best);
  }
  const ms = Date.now() - started;
  // The search times orders as the evaluator does; the evaluator's verdict is the number reported.
  const makespan = bestOrders === undefined ? Number.POSITIVE_INFINITY : evaluator.makespan(bestOrders);
  if (Math.abs(makespan - best) > 1e-6 && Number.isFinite(best)) throw new Error(`solveExactly: search timed ${best}, the evaluator ${makespan}`);
  return {
    orders: bestOrders,
    makespan,
    proven,
    lowerBound: proven ? makespan : Math.min(makespan, bound),
    nodes,
    ms,
    tooLarge,
  };
}
