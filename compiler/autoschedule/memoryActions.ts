// `schedule auto(memory: 8GiB)` with memory actions: the automatic
// scheduler's orders, plus per (stage, microbatch) a choice to recompute
// (R) or offload (O, later L), under a per-device limit on activation bytes
// as the memory check counts them (compiler/schedule/memory.ts: the split
// backward frees the full stash at I, a checkpointed pair keeps its stage
// input, an offloaded one nothing).
//
// The search, keep the best:
//  1. orders from the plain automatic scheduler under the limit and under
//     looser activation limits (more warm-up forwards, shorter bubbles than
//     the limit allows without memory actions);
//  2. for each order that does not fit, memory actions chosen device by
//     device: at the first point where the device would exceed its limit,
//     the live stash whose backward comes last is recomputed or offloaded
//     (Belady's choice), until the device fits or nothing is left to pick;
//     an offload's L is placed so that the compute between it and the
//     backward covers the copy; then each R is moved earlier into idle
//     time while that shortens the makespan;
//  3. one evaluator for every candidate: R takes a forward's time on the
//     compute stream, O and L run on the device's copy stream (bytes ÷ the
//     host link's bandwidth) and the backward waits for its L; a candidate
//     fits when both the order-level count and the sweep over time (the
//     simulator's, where a stash stays until its copy is done) are within
//     the limit.
// The report says which pairs are recomputed and offloaded, and the best
// makespan without memory actions under the same limit (none when no
// plain order fits), so the gain is visible.

import type { CostModel } from '../cost/types.ts';
import { actionDuration, dependenciesOf, dependencyDelay, isMemoryOperation, pairIndex } from '../schedule/actions.ts';
import { memoryProfile, runningPeaks, type StageMemoryOptions } from '../schedule/memory.ts';
import type { ComputeAction, ComputeSchedule, PipelineShape } from '../schedule/types.ts';

export interface MemoryActionRequest {
  readonly shape: PipelineShape;
  readonly costs: CostModel;
  /** Per device, in the units of costs.stages[].activation (bytes under derived costs). */
  readonly memoryLimit: readonly number[];
  /** Per stage, what a checkpointed pair keeps (its stage input), in the same units. */
  readonly checkpoint: readonly number[];
  readonly recompute: boolean;
  readonly offload: boolean;
}

/** The plain automatic scheduler (F, I, W orders under an activation-count limit); throws when nothing fits. */
export type PlainAutoScheduler = (request: { readonly shape: PipelineShape; readonly costs: CostModel; readonly memoryLimit: readonly number[] }) => ComputeSchedule;

export type MemoryMode = 'none' | 'recompute' | 'offload' | 'both';

export interface MemoryPlanCandidate {
  readonly schedule: ComputeSchedule;
  readonly makespan: number;
  /** Peak activation units per device (compiler/schedule/memory.ts). */
  readonly peak: readonly number[];
  readonly mode: MemoryMode;
}

export interface MemoryActionReport {
  /** The best order found, with its memory actions. */
  readonly schedule: ComputeSchedule;
  readonly makespan: number;
  readonly peak: readonly number[];
  /** The best order without memory actions that fits the limit; undefined: none does. */
  readonly withoutMemoryActions?: MemoryPlanCandidate;
  /** The best with each kind of memory action allowed (none, recompute only, offload only, both), for the benchmark's columns. */
  readonly bestByMode: Partial<Record<MemoryMode, MemoryPlanCandidate>>;
  readonly recomputed: readonly PairLabel[];
  readonly offloaded: readonly PairLabel[];
  readonly candidatesTried: number;
}

export interface PairLabel {
  readonly stage: number;
  readonly microbatch: number;
}

const EPSILON = 1e-9;

export function autoScheduleWithMemoryActions(request: MemoryActionRequest, plain: PlainAutoScheduler): MemoryActionReport {
  const stageMemory = stageMemoryOf(request);
  const modes: MemoryMode[] = ['none'];
  if (request.recompute) modes.push('recompute');
  if (request.offload) modes.push('offload');
  if (request.recompute && request.offload) modes.push('both');
  const bestByMode: Partial<Record<MemoryMode, MemoryPlanCandidate>> = {};
  let tried = 0;
  const seen = new Set<string>();
  // A plan is also one of every mode that allows its actions: recompute and offload may add none, both may add either.
  const alsoIn: Record<MemoryMode, readonly MemoryMode[]> = { none: ['none', 'recompute', 'offload', 'both'], recompute: ['recompute', 'both'], offload: ['offload', 'both'], both: ['both'] };
  const keep = (candidate: MemoryPlanCandidate) => {
    for (const mode of alsoIn[candidate.mode]) {
      if (!modes.includes(mode)) continue;
      const current = bestByMode[mode];
      if (current === undefined || candidate.makespan < current.makespan - EPSILON || (Math.abs(candidate.makespan - current.makespan) <= EPSILON && memoryActionCount(candidate.schedule) < memoryActionCount(current.schedule))) {
        bestByMode[mode] = candidate;
      }
    }
  };
  let lastError: unknown;
  for (const limit of candidateLimits(request)) {
    let order: ComputeSchedule;
    try {
      order = plain({ shape: request.shape, costs: request.costs, memoryLimit: limit });
    } catch (error) {
      lastError = error;
      continue;
    }
    const key = order.orders.map((o) => o.map((a) => `${a.operation}${a.stage}.${a.microbatch}`).join(',')).join('|');
    if (seen.has(key)) continue;
    seen.add(key);
    for (const mode of modes) {
      tried++;
      const planned = mode === 'none' ? order : planMemoryActions(order, request, stageMemory, mode);
      if (planned === undefined) continue;
      const peak = memoryProfile(planned, stageMemory).device;
      if (!fits(peak, request.memoryLimit)) continue;
      const improved = mode === 'none' ? planned : moveRecomputesIntoIdleTime(planned, request, stageMemory);
      // Within the limit both as the memory check counts (in order) and as the simulator sweeps it (in time, copies taking theirs).
      const { makespan, peaks } = timeAndSweepMemory(improved, request.costs, request.checkpoint);
      if (makespan === Number.POSITIVE_INFINITY || !fits(peaks, request.memoryLimit)) continue;
      keep({ schedule: { ...improved, name: 'auto' }, makespan, peak: memoryProfile(improved, stageMemory).device, mode });
    }
  }
  const all = modes.map((mode) => bestByMode[mode]).filter((candidate): candidate is MemoryPlanCandidate => candidate !== undefined);
  if (all.length === 0) {
    const plainReason = lastError instanceof Error ? `; ${lastError.message}` : '';
    throw new Error(
      `no order fits ${request.memoryLimit.map(round).join(' / ')} activation units per rank` +
        `${request.recompute || request.offload ? ` even with ${[request.recompute ? 'recompute' : '', request.offload ? 'offload' : ''].filter(Boolean).join(' and ')}` : ''}${plainReason}`,
    );
  }
  // Fewer memory actions win ties: a generous limit gets a plain order.
  all.sort((a, b) => a.makespan - b.makespan || memoryActionCount(a.schedule) - memoryActionCount(b.schedule));
  const best = all[0];
  return {
    schedule: best.schedule,
    makespan: best.makespan,
    peak: best.peak,
    ...(bestByMode.none ? { withoutMemoryActions: bestByMode.none } : {}),
    bestByMode,
    recomputed: pairsWith(best.schedule, 'R'),
    offloaded: pairsWith(best.schedule, 'O'),
    candidatesTried: tried,
  };
}

/** The split-backward byte model per stage, in the request's units. */
export function stageMemoryOf(request: { readonly costs: CostModel; readonly checkpoint: readonly number[] }): StageMemoryOptions[] {
  return request.costs.stages.map((stage, s) => ({
    activationBytes: stage.activation,
    ...(stage.weightGradientActivation !== undefined ? { weightGradientBytes: stage.weightGradientActivation } : {}),
    inputBytes: Math.min(request.checkpoint[s] ?? stage.activation, stage.activation),
  }));
}

/**
 * Activation-count limits for the plain scheduler: the user's, the least a
 * plain order needs where the user's is below it, then looser ones tapering like 1F1B's warm-up (p − d stashes on device d, times 1,
 * 1.5 and 2), whose orders have shorter bubbles and may fit with memory
 * actions. The taper keeps the last devices near the user's limit: what
 * they hold lives from I to W or only briefly from F to I, which neither
 * recompute nor offload can shorten.
 */
function candidateLimits(request: MemoryActionRequest): number[][] {
  const { shape, costs } = request;
  const perDevice: number[][] = Array.from({ length: shape.devices }, () => []);
  shape.stageDevice.forEach((device, stage) => perDevice[device].push(costs.stages[stage].activation));
  const stash = perDevice.map((list) => list.reduce((a, b) => a + b, 0));
  const limits: number[][] = [[...request.memoryLimit]];
  if (request.recompute || request.offload) {
    // The least a plain order needs (one microbatch on each of the device's stages): memory actions may fit it under less.
    limits.push(stash.map((units, d) => Math.max(request.memoryLimit[d], units)));
    for (const factor of [1, 1.5, 2]) {
      limits.push(stash.map((units, d) => Math.max(request.memoryLimit[d], factor * (shape.devices - d) * units)));
    }
  }
  const distinct: number[][] = [];
  for (const limit of limits) if (!distinct.some((other) => other.every((value, d) => value === limit[d]))) distinct.push(limit);
  return distinct;
}

function fits(peak: readonly number[], limit: readonly number[]): boolean {
  return peak.every((value, d) => value <= limit[d] + EPSILON * Math.max(1, limit[d]));
}

function copyTime(costs: CostModel, stage: number): number {
  return costs.hostBandwidth !== undefined && costs.hostBandwidth > 0 ? costs.stages[stage].activation / costs.hostBandwidth : 0;
}

/**
 * Memory actions for one order so that each device fits: repeatedly, at
 * the first action where the device exceeds its limit, the live full stash
 * whose backward comes last is recomputed or offloaded. `both` offloads
 * when the compute before the backward hides the reload, else recomputes.
 * Undefined when a device cannot be brought under its limit.
 */
export function planMemoryActions(order: ComputeSchedule, request: MemoryActionRequest, stageMemory: readonly StageMemoryOptions[], mode: Exclude<MemoryMode, 'none'>): ComputeSchedule | undefined {
  const orders: ComputeAction[][] = [];
  for (let d = 0; d < order.devices; d++) {
    const planned = planDevice(order, [...order.orders[d]], request, stageMemory, mode, request.memoryLimit[d]);
    if (planned === undefined) return undefined;
    orders.push(planned);
  }
  return { ...order, orders };
}

function planDevice(schedule: ComputeSchedule, order: ComputeAction[], request: MemoryActionRequest, stageMemory: readonly StageMemoryOptions[], mode: Exclude<MemoryMode, 'none'>, limit: number): ComputeAction[] | undefined {
  const planned = new Set<number>();
  const over = (value: number) => value > limit + EPSILON * Math.max(1, limit);
  // The first action (index in `order`) where the device exceeds its limit, -1 if none. An
  // offload frees the device only once its copy is done, so each O counts as if it came after
  // the compute that covers its copy time (as the simulator sweeps it), not at its place.
  const firstOverflow = (): number => {
    const positions = order.map((_, k) => k);
    for (let k = 0; k < order.length; k++) {
      if (order[k].operation !== 'O') continue;
      const at = positions.indexOf(k);
      const copy = copyTime(request.costs, order[k].stage);
      let to = at;
      let covered = 0;
      while (covered < copy - EPSILON && to + 1 < positions.length) {
        const next = order[positions[to + 1]];
        if (next.operation === 'L' && next.stage === order[k].stage && next.microbatch === order[k].microbatch) break;
        covered += isMemoryOperation(next.operation) ? 0 : actionDuration(request.costs, next.operation, next.stage);
        to++;
      }
      positions.splice(to + 1, 0, k);
      positions.splice(at, 1);
    }
    const peaks = runningPeaks({ ...schedule, orders: [positions.map((k) => order[k])] }, stageMemory)[0];
    const first = peaks.findIndex(over);
    return first < 0 ? -1 : positions[first];
  };
  // Each round plans one more pair or moves one W earlier, so rounds are bounded by twice the actions.
  for (let round = 0; round <= 2 * order.length; round++) {
    const at = firstOverflow();
    if (at < 0) return order;
    // Live full stashes at `at`: F before it, backward after it, not yet planned.
    let victim = -1;
    let victimBackward = -1;
    for (let k = 0; k < at; k++) {
      const action = order[k];
      if (action.operation !== 'F') continue;
      const pair = pairIndex(schedule, action.stage, action.microbatch);
      if (planned.has(pair)) continue;
      const backward = order.findIndex((other) => (other.operation === 'B' || other.operation === 'I') && other.stage === action.stage && other.microbatch === action.microbatch);
      if (backward <= at) continue;
      if (backward > victimBackward) {
        victim = k;
        victimBackward = backward;
      }
    }
    if (victim < 0) {
      // Only W parts (from I to W) are left to free, which no memory action shortens: run the
      // earliest such W right before the overflowing action instead (a W waits only for its own I).
      const pending = order.findIndex((action, k) => k < at && action.operation === 'I' && order.findIndex((other, j) => j > at && other.operation === 'W' && other.stage === action.stage && other.microbatch === action.microbatch) > at);
      if (pending < 0) return undefined;
      const inputGradient = order[pending];
      const w = order.findIndex((other) => other.operation === 'W' && other.stage === inputGradient.stage && other.microbatch === inputGradient.microbatch);
      const [weightGradient] = order.splice(w, 1);
      order.splice(at, 0, weightGradient);
      continue;
    }
    const forward = order[victim];
    planned.add(pairIndex(schedule, forward.stage, forward.microbatch));
    const make = (operation: 'R' | 'O' | 'L'): ComputeAction => ({ operation, stage: forward.stage, microbatch: forward.microbatch });
    // Where L would start so that the compute before the backward covers the copy, but after the overflow point.
    const copy = copyTime(request.costs, forward.stage);
    let reloadAt = victimBackward;
    let covered = 0;
    while (reloadAt - 1 > at && covered < copy - EPSILON) {
      reloadAt--;
      covered += actionDuration(request.costs, order[reloadAt].operation, order[reloadAt].stage);
    }
    const offload = mode === 'offload' || (mode === 'both' && covered >= copy - EPSILON);
    if (offload) {
      order.splice(reloadAt, 0, make('L'));
      order.splice(victim + 1, 0, make('O'));
      // A reload that lands while the device is full (e.g. W's part of another pair still held) moves later, up to right before its backward.
      let reload = reloadAt + 1;
      while (reload + 1 < backwardIndexOf(order, forward)) {
        const overflow = firstOverflow();
        if (overflow < reload || overflow >= backwardIndexOf(order, forward)) break;
        [order[reload], order[reload + 1]] = [order[reload + 1], order[reload]];
        reload++;
      }
    } else {
      order.splice(victimBackward, 0, make('R'));
    }
  }
  return undefined;
}

function backwardIndexOf(order: readonly ComputeAction[], forward: ComputeAction): number {
  return order.findIndex((other) => (other.operation === 'B' || other.operation === 'I') && other.stage === forward.stage && other.microbatch === forward.microbatch);
}

/**
 * Each R moved earlier, one compute action at a time, while the makespan
 * drops and the devices still fit: a recompute in a bubble costs nothing.
 */
function moveRecomputesIntoIdleTime(schedule: ComputeSchedule, request: MemoryActionRequest, stageMemory: readonly StageMemoryOptions[]): ComputeSchedule {
  const orders = schedule.orders.map((order) => [...order]);
  const current = () => ({ ...schedule, orders });
  let makespan = timeWithCopyStream(current(), request.costs);
  for (let d = 0; d < orders.length; d++) {
    const order = orders[d];
    for (let k = 0; k < order.length; k++) {
      if (order[k].operation !== 'R') continue;
      let position = k;
      for (let step = 0; step < 8; step++) {
        const previous = order[position - 1];
        if (previous === undefined || (previous.operation === 'F' && previous.stage === order[position].stage && previous.microbatch === order[position].microbatch)) break;
        [order[position - 1], order[position]] = [order[position], order[position - 1]];
        const candidate = timeAndSweepMemory(current(), request.costs, request.checkpoint);
        if (candidate.makespan < makespan - EPSILON && fits(candidate.peaks, request.memoryLimit) && fits(memoryProfile(current(), stageMemory).device, request.memoryLimit)) {
          makespan = candidate.makespan;
          position--;
        } else {
          [order[position - 1], order[position]] = [order[position], order[position - 1]];
          break;
        }
      }
    }
  }
  return current();
}

/**
 * Makespan of orders with memory actions: each device runs its compute in
 * order (R a forward's time), O and L queue on the device's copy stream as
 * they are reached, a B or I waits for its pair's L, and cross-device
 * inputs arrive after the link delay. +Infinity when the orders deadlock.
 */
export function timeWithCopyStream(schedule: ComputeSchedule, costs: CostModel): number {
  return timeAndSweepMemory(schedule, costs).makespan;
}

/**
 * As timeWithCopyStream, with each device's peak of activation units over
 * time as the simulator sweeps it (compiler/simulate/simulate.ts): a
 * forward holds its stash from its start (only `checkpoint[s]` after its end
 * when an R is planned), an R from its start, an offloaded stash leaves at
 * the end of its copy and comes back at the start of its reload, I leaves
 * W's part at its end, B and W free at their end. The order-level count
 * (memory.ts) drops an offloaded stash at the O itself, so a slow copy can
 * make this peak the higher one.
 */
export function timeAndSweepMemory(schedule: ComputeSchedule, costs: CostModel, checkpoint?: readonly number[]): { makespan: number; peaks: number[] } {
  const pairs = schedule.stages * schedule.microbatches;
  const recomputed = new Uint8Array(pairs);
  for (const order of schedule.orders) for (const action of order) if (action.operation === 'R') recomputed[pairIndex(schedule, action.stage, action.microbatch)] = 1;
  const held = new Float64Array(pairs);
  const memoryTimes: number[][] = schedule.orders.map(() => []);
  const memoryDeltas: number[][] = schedule.orders.map(() => []);
  const hold = (d: number, time: number, pair: number, units: number) => {
    memoryTimes[d].push(time);
    memoryDeltas[d].push(units - held[pair]);
    held[pair] = units;
  };
  const forwardEnd = new Float64Array(pairs).fill(Number.NaN);
  const gradientEnd = new Float64Array(pairs).fill(Number.NaN);
  const inputGradientEnd = new Float64Array(pairs).fill(Number.NaN);
  const reloadEnd = new Float64Array(pairs).fill(Number.NaN);
  const offloaded = new Uint8Array(pairs);
  for (const order of schedule.orders) for (const action of order) if (action.operation === 'O') offloaded[pairIndex(schedule, action.stage, action.microbatch)] = 1;
  const devices = schedule.orders.length;
  const next = new Int32Array(devices);
  const free = new Float64Array(devices);
  const copyFree = new Float64Array(devices);
  let progress = true;
  while (progress) {
    progress = false;
    for (let d = 0; d < devices; d++) {
      const order = schedule.orders[d];
      while (next[d] < order.length) {
        const action = order[next[d]];
        const pair = pairIndex(schedule, action.stage, action.microbatch);
        let ready = free[d];
        let blocked = false;
        if (!isMemoryOperation(action.operation)) {
          for (const dependency of dependenciesOf(schedule, action.operation, action.stage)) {
            const producer = pairIndex(schedule, dependency.stage, action.microbatch);
            const end = dependency.kind === 'F' ? forwardEnd[producer] : dependency.kind === 'G' ? gradientEnd[producer] : inputGradientEnd[producer];
            if (Number.isNaN(end)) {
              blocked = true;
              break;
            }
            ready = Math.max(ready, end + dependencyDelay(costs, dependency));
          }
          if (!blocked && (action.operation === 'B' || action.operation === 'I') && offloaded[pair]) {
            if (Number.isNaN(reloadEnd[pair])) blocked = true;
            else ready = Math.max(ready, reloadEnd[pair]);
          }
        }
        if (blocked) break;
        const full = costs.stages[action.stage].activation;
        if (action.operation === 'O' || action.operation === 'L') {
          const start = Math.max(copyFree[d], free[d]);
          copyFree[d] = start + copyTime(costs, action.stage);
          if (action.operation === 'L') {
            reloadEnd[pair] = copyFree[d];
            hold(d, start, pair, full);
          } else hold(d, copyFree[d], pair, 0);
        } else {
          const end = ready + actionDuration(costs, action.operation, action.stage);
          free[d] = end;
          if (action.operation === 'F') {
            forwardEnd[pair] = end;
            hold(d, ready, pair, full);
            if (recomputed[pair]) hold(d, end, pair, Math.min(checkpoint?.[action.stage] ?? full, full));
          } else if (action.operation === 'R') hold(d, ready, pair, full);
          else if (action.operation === 'B' || action.operation === 'I') {
            gradientEnd[pair] = end;
            if (action.operation === 'I') {
              inputGradientEnd[pair] = end;
              hold(d, end, pair, costs.stages[action.stage].weightGradientActivation ?? full);
            } else hold(d, end, pair, 0);
          } else if (action.operation === 'W') hold(d, end, pair, 0);
        }
        next[d]++;
        progress = true;
      }
    }
  }
  let makespan = 0;
  for (let d = 0; d < devices; d++) {
    if (next[d] < schedule.orders[d].length) return { makespan: Number.POSITIVE_INFINITY, peaks: [] };
    makespan = Math.max(makespan, free[d], copyFree[d]);
  }
  const peaks = memoryTimes.map((times, d) => {
    // In time order; ties in the order recorded, as the simulator applies them.
    const order = Array.from(times.keys()).sort((a, b) => times[a] - times[b] || a - b);
    let live = 0;
    let peak = 0;
    for (const index of order) {
      live += memoryDeltas[d][index];
      peak = Math.max(peak, live);
    }
    return peak;
  });
  return { makespan, peaks };
}

function memoryActionCount(schedule: ComputeSchedule): number {
  let count = 0;
  for (const order of schedule.orders) for (const action of order) if (isMemoryOperation(action.operation)) count++;
  return count;
}

function pairsWith(schedule: ComputeSchedule, operation: 'R' | 'O'): PairLabel[] {
  const pairs: PairLabel[] = [];
  for (const order of schedule.orders) for (const action of order) if (action.operation === operation) pairs.push({ stage: action.stage, microbatch: action.microbatch });
  return pairs.sort((a, b) => a.stage - b.stage || a.microbatch - b.microbatch);
}

/** What the memory-action search chose, for a report under the order (`pipec schedule auto`, `pipec simulate`). */
export interface MemoryPlanSummary {
  /** The search's own timing of the order it returns. */
  readonly makespan: number;
  /** Under the same limit without memory actions; undefined: no order fits. */
  readonly makespanWithout?: number;
  readonly recomputed: string;
  readonly offloaded: string;
  /** Peak activation units per device (bytes under derived costs). */
  readonly peak: readonly number[];
}

export function summariseMemoryPlan(report: MemoryActionReport): MemoryPlanSummary {
  return {
    makespan: report.makespan,
    ...(report.withoutMemoryActions ? { makespanWithout: report.withoutMemoryActions.makespan } : {}),
    recomputed: describePairs(report.recomputed),
    offloaded: describePairs(report.offloaded),
    peak: report.peak,
  };
}

/** Report lines: the makespan with and without memory actions, and which pairs. */
export function memoryPlanLines(plan: MemoryPlanSummary, format: (value: number) => string, formatMemory: (value: number) => string): string[] {
  const without = plan.makespanWithout === undefined ? 'no order fits without memory actions' : `${format(plan.makespanWithout)} without memory actions`;
  return [
    `memory actions: makespan ${format(plan.makespan)} (${without}); peak activations per device ${plan.peak.map(formatMemory).join(' ')}`,
    `  recomputed: ${plan.recomputed}`,
    `  offloaded: ${plan.offloaded}`,
  ];
}

/** 'stage 0: 1 3 5; stage 1: 2' for a report. */
export function describePairs(pairs: readonly PairLabel[]): string {
  if (pairs.length === 0) return 'none';
  const byStage = new Map<number, number[]>();
  for (const pair of pairs) {
    const list = byStage.get(pair.stage) ?? [];
    list.push(pair.microbatch);
    byStage.set(pair.stage, list);
  }
  return [...byStage].map(([stage, microbatches]) => `stage ${stage}: microbatch${microbatches.length === 1 ? '' : 'es'} ${microbatches.join(' ')}`).join('; ');
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
