// The dependency-driven list scheduler behind the rules form of schedules
// (`split backward`, `limit activations <= ...`, `priority I > F > W`).
// It simulates the pipeline under a cost model: whenever a device is idle it
// starts the highest-priority action whose inputs have arrived, never an F
// that would take the device past its activation limit. Ties go to the
// lowest microbatch, then to the later stage (its results unblock more
// work). Deterministic: the same rules and costs always give the same order.
// A forward-only stage (a frozen prefix) runs F alone and keeps no stash, so
// its forwards count against no limit and rank below every other class:
// they run when nothing else is ready, in the bubbles (DiffusionPipe's idea
// for frozen encoders).
// Work is O(A log A) for A actions: ready actions wait in per-device,
// per-class heaps; time advances by completion events.
// Memory rules (`recompute when live > K`, `offload ratio R`, ...) pick
// forwards to checkpoint or offload as they start, and place the memory
// actions around them (docs/schedules.md, "Memory rules"):
//  - a checkpointed pair's R runs in the device's idle time once the pair
//    is next in line for its stage's backward and the rebuilt stash stays
//    within K; otherwise right before its backward (R then B/I back to back);
//  - an offloaded pair's O follows its F at once; its L is issued when the
//    stage starts the backward of the microbatch before, so the reload runs
//    on the copy stream during that backward, and the pair's B/I waits until
//    the reload has landed (bytes ÷ the host link's bandwidth).

import type { CostModel } from '../cost/types.ts';
import { actionDuration, activationConsumers, dependencyDelay, dependenciesOf, gradientConsumers, isFirstStageOfCopy, isForwardOnly, isLastStageOfCopy, isMemoryOperation, isVocabShard, operationsOfStage, pairIndex, statisticsPeers } from './actions.ts';
import type { ComputeAction, ComputeOperation, ComputeSchedule, PipelineShape } from './types.ts';

export interface PriorityClass {
  readonly operation: ComputeOperation;
  /** Chunk (c-th lowest stage on the device); undefined: every chunk. */
  readonly chunk?: number;
  /** The device's vocabulary shard, whichever chunk it is (the S and T terms). */
  readonly vocabShard?: boolean;
}

/**
 * Which forwards a memory rule picks: `when live > K` those that would leave
 * more than K full stashes on their device, `ratio R` microbatch i when
 * ⌊(i+1)·R⌋ > ⌊i·R⌋ (R = 0.5: the odd ones).
 */
export type MemoryTrigger =
  | { readonly kind: 'whenLive'; readonly threshold: readonly number[] }
  | { readonly kind: 'ratio'; readonly ratio: number };

export interface ListSchedulingRules {
  readonly splitBackward: boolean;
  /** Per device, the most activations (in stage-microbatch units) alive at once, each from its F until its B or W. */
  readonly activationLimit: readonly number[];
  /**
   * Per device, the most full stashes alive at once, each from its F until
   * its I or B (`limit stash <= ...`): the split-backward model frees the
   * full stash at I and keeps only what W needs until W
   * (compiler/schedule/memory.ts). Absent: no such limit.
   */
  readonly stashLimit?: readonly number[];
  /** Highest first. Operations not named follow, in the order B/I, F, W. */
  readonly priority: readonly PriorityClass[];
  /** `recompute when live > K` / `recompute ratio R`: forwards that keep only their input and are rebuilt by R. */
  readonly recompute?: MemoryTrigger;
  /** `offload when live > K` / `offload ratio R`: forwards whose stash goes to host memory (O) and back (L). */
  readonly offload?: MemoryTrigger;
  /** The span the generated actions point at (the schedule declaration). */
  readonly span?: ComputeAction['span'];
}

export type ListScheduleResult =
  | { readonly ok: true; readonly orders: ComputeAction[][] }
  | { readonly ok: false; readonly detail: string; readonly orders: ComputeAction[][] };

/** Min-heap of numbers (encoded candidates). */
class NumberHeap {
  private readonly items: number[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): number {
    return this.items[0];
  }
  push(value: number): void {
    const items = this.items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent] <= value) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = value;
  }
  pop(): number {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      let i = 0;
      const n = items.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && items[r] < items[l] ? r : l;
        if (items[c] >= last) break;
        items[i] = items[c];
        i = c;
      }
      items[i] = last;
    }
    return top;
  }
}


// The list scheduler queues F/B/I/W only; memory rules place R, O and L
// around them (a priority term cannot name them, PIPE4566), so they map to no queue.
const OPERATION_INDEX: Readonly<Record<ComputeOperation, number>> = { F: 0, B: 1, I: 2, W: 3, R: -1, O: -1, L: -1 };

export function listSchedule(shape: PipelineShape, rules: ListSchedulingRules, costs: CostModel): ListScheduleResult {
  const { devices, stages, microbatches, stageDevice } = shape;
  const backwardOp: ComputeOperation = rules.splitBackward ? 'I' : 'B';
  const operations: ComputeOperation[] = rules.splitBackward ? ['F', 'I', 'W'] : ['F', 'B'];

  // Chunk of each stage on its device and the device's stages.
  const chunkOf = new Int32Array(stages);
  const deviceStages: number[][] = Array.from({ length: devices }, () => []);
  for (let s = 0; s < stages; s++) {
    chunkOf[s] = deviceStages[stageDevice[s]].length;
    deviceStages[stageDevice[s]].push(s);
  }
  const maxChunks = Math.max(1, ...deviceStages.map((list) => list.length));

  // Class rank of (operation, chunk): position of the first matching term.
  const normalise = (op: ComputeOperation): ComputeOperation => (op === 'B' || op === 'I' ? backwardOp : op);
  const classRank = (op: ComputeOperation, chunk: number, shard: boolean): number => {
    for (let k = 0; k < rules.priority.length; k++) {
      const term = rules.priority[k];
      const where = term.vocabShard ? shard : term.chunk === undefined || term.chunk === chunk;
      if (normalise(term.operation) === op && where) return k;
    }
    const defaults: ComputeOperation[] = [backwardOp, 'F', 'W'];
    return rules.priority.length + defaults.indexOf(op);
  };
  // Below every class a rule can name or default to.
  const FORWARD_ONLY_RANK = rules.priority.length + 3;
  // Per device, the candidate classes (operation × chunk) sorted by rank;
  // classes of equal rank share a heap so microbatch order decides among them.
  interface ClassQueue {
    readonly rank: number;
    readonly operation: ComputeOperation;
    readonly heap: NumberHeap;
    /** For F classes: how many later chunks of the device a new F must leave room for. */
    readonly reserve: number;
    readonly chunk: number;
    /** F of a forward-only stage: keeps no stash, so no limit holds it back. */
    readonly forwardOnly: boolean;
  }
  const queues: ClassQueue[][] = [];
  const queueOf: ClassQueue[][] = []; // [device][opIndex * maxChunks + chunk]
  for (let d = 0; d < devices; d++) {
    const byRank = new Map<string, ClassQueue>();
    const lookup: ClassQueue[] = [];
    // Later chunks a lower chunk's F leaves room for: those that keep a stash.
    const keeping: number[] = deviceStages[d].map((stage) => (isForwardOnly(shape, stage) ? 0 : 1));
    for (const op of operations) {
      for (let c = 0; c < deviceStages[d].length; c++) {
        const forwardOnly = isForwardOnly(shape, deviceStages[d][c]);
        if (forwardOnly && op !== 'F') continue;
        const rank = forwardOnly ? FORWARD_ONLY_RANK : classRank(op, c, isVocabShard(shape, deviceStages[d][c]));
        // Chunks sharing a rank share a queue; the reserve is the most any needs.
        const key = op === 'F' ? `${rank}:${op}:${c}` : `${rank}:${op}`;
        const reserve = op === 'F' && !forwardOnly ? keeping.slice(c + 1).reduce((a, b) => a + b, 0) : 0;
        let queue = byRank.get(key);
        if (!queue) byRank.set(key, (queue = { rank, operation: op, heap: new NumberHeap(), reserve, chunk: c, forwardOnly }));
        lookup[OPERATION_INDEX[op] * maxChunks + c] = queue;
      }
    }
    queues.push([...byRank.values()].sort((a, b) => a.rank - b.rank || OPERATION_INDEX[a.operation] - OPERATION_INDEX[b.operation] || b.chunk - a.chunk));
    queueOf.push(lookup);
  }
  // Candidate encoding: microbatch-major, later stage first among equals.
  const encode = (stage: number, microbatch: number) => microbatch * stages + (stages - 1 - stage);
  const decodeStage = (code: number) => stages - 1 - (code % stages);
  const decodeMicrobatch = (code: number) => Math.floor(code / stages);

  const pairs = stages * microbatches;
  // Remaining unmet dependencies of each (op, pair).
  const remaining = [new Uint8Array(pairs), new Uint8Array(pairs), new Uint8Array(pairs), new Uint8Array(pairs)];
  for (let s = 0; s < stages; s++) {
    for (const op of operationsOfStage(shape, s, rules.splitBackward)) {
      const count = dependenciesOf(shape, op, s).length;
      for (let i = 0; i < microbatches; i++) remaining[OPERATION_INDEX[op]][pairIndex(shape, s, i)] = count;
    }
  }
  const makeReady = (op: ComputeOperation, stage: number, microbatch: number) => {
    queueOf[stageDevice[stage]][OPERATION_INDEX[op] * maxChunks + chunkOf[stage]].heap.push(encode(stage, microbatch));
  };
  // Every model copy's first stage takes its microbatches with nothing to wait for.
  for (let s = 0; s < stages; s++) if (isFirstStageOfCopy(shape, s)) for (let i = 0; i < microbatches; i++) makeReady('F', s, i);

  // Events: a finished action, or an input arriving after communication.
  // Stored as parallel arrays with a heap over indices ordered by (time, index).
  const eventTime: number[] = [];
  const eventKind: number[] = []; // 0 = finish on device, 1 = arrival of a dependency
  const eventA: number[] = []; // finish: device; arrival: op index of the waiting action
  const eventB: number[] = []; // finish: unused;  arrival: pair of the waiting action
  const heap: number[] = [];
  const less = (x: number, y: number) => eventTime[x] < eventTime[y] || (eventTime[x] === eventTime[y] && x < y);
  const pushEvent = (time: number, kind: number, a: number, b: number) => {
    const id = eventTime.length;
    eventTime.push(time);
    eventKind.push(kind);
    eventA.push(a);
    eventB.push(b);
    heap.push(id);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(id, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = id;
  };
  const popEvent = () => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const c = r < heap.length && less(heap[r], heap[l]) ? r : l;
        if (!less(heap[c], last)) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = last;
    }
    return top;
  };

  const orders: ComputeAction[][] = Array.from({ length: devices }, () => []);
  const busy = new Uint8Array(devices);
  const running: { op: ComputeOperation; stage: number; microbatch: number }[] = Array.from({ length: devices }, () => ({ op: 'F', stage: 0, microbatch: 0 }));
  const live = new Float64Array(devices);
  const stashLive = new Float64Array(devices);
  // Memory rules: per pair its plan, per device the full stashes it holds
  // (not checkpointed, not offloaded) and when its copy stream is free.
  const PLAIN = 0, CHECKPOINTED = 1, REBUILT = 2, OFFLOADED = 3, RELOADED = 4;
  const plan = new Uint8Array(pairs);
  const backwardStarted = new Uint8Array(pairs);
  const fullStashes = new Float64Array(devices);
  const copyFree = new Float64Array(devices);
  const copyTime = (stage: number) => (costs.hostBandwidth && costs.hostBandwidth > 0 ? costs.stages[stage].activation / costs.hostBandwidth : 0);
  const picks = (trigger: MemoryTrigger | undefined, d: number, microbatch: number): boolean => {
    if (trigger === undefined) return false;
    if (trigger.kind === 'whenLive') return fullStashes[d] + 1 > trigger.threshold[d];
    return Math.floor((microbatch + 1) * trigger.ratio) > Math.floor(microbatch * trigger.ratio);
  };
  // The stage already runs the backward of the microbatch before: this
  // pair's backward comes next, so moving or dropping its stash saves nothing.
  const neededSoon = (stage: number, microbatch: number): boolean =>
    microbatch === 0 ? isLastStageOfCopy(shape, stage) : backwardStarted[pairIndex(shape, stage, microbatch - 1)] === 1;
  const choosePlan = (d: number, stage: number, microbatch: number): number => {
    if (neededSoon(stage, microbatch)) return PLAIN;
    // A reload needs an earlier backward of the stage to hide behind.
    if (microbatch > 0 && picks(rules.offload, d, microbatch)) return OFFLOADED;
    if (picks(rules.recompute, d, microbatch)) return CHECKPOINTED;
    return PLAIN;
  };
  const span = rules.span;
  const emit = (d: number, operation: ComputeOperation, stage: number, microbatch: number) => {
    orders[d].push(span ? { operation, stage, microbatch, span } : { operation, stage, microbatch });
  };
  // The reload of (stage, microbatch + 1) starts with this backward when that pair is offloaded.
  const issueReload = (d: number, stage: number, microbatch: number, now: number) => {
    if (microbatch + 1 >= microbatches) return;
    const next = pairIndex(shape, stage, microbatch + 1);
    if (plan[next] !== OFFLOADED) return;
    emit(d, 'L', stage, microbatch + 1);
    plan[next] = RELOADED;
    fullStashes[d] += 1;
    const end = Math.max(copyFree[d], now) + copyTime(stage);
    copyFree[d] = end;
    pushEvent(end, 1, OPERATION_INDEX[backwardOp], next);
  };
  // In idle time: rebuild the checkpointed pair next in line for its stage's backward, if the stash fits.
  const tryEarlyRecompute = (d: number, now: number): boolean => {
    const trigger = rules.recompute;
    if (trigger === undefined) return false;
    if (trigger.kind === 'whenLive' && fullStashes[d] + 1 > trigger.threshold[d]) return false;
    for (let k = deviceStages[d].length - 1; k >= 0; k--) {
      const stage = deviceStages[d][k];
      const microbatch = nextBackward[stage];
      if (microbatch >= microbatches) continue;
      const pair = pairIndex(shape, stage, microbatch);
      if (plan[pair] !== CHECKPOINTED) continue;
      emit(d, 'R', stage, microbatch);
      plan[pair] = REBUILT;
      fullStashes[d] += 1;
      busy[d] = 1;
      running[d] = { op: 'R', stage, microbatch };
      pushEvent(now + actionDuration(costs, 'R', stage), 0, d, 0);
      return true;
    }
    return false;
  };
  // Per stage, the lowest microbatch whose backward has not started.
  const nextBackward = new Int32Array(stages);
  const stashLimit = rules.stashLimit ?? new Array<number>(devices).fill(Number.POSITIVE_INFINITY);
  let total = 0;
  for (let s = 0; s < stages; s++) total += operationsOfStage(shape, s, rules.splitBackward).length * microbatches;
  let done = 0;

  const satisfy = (op: ComputeOperation, stage: number, microbatch: number) => {
    const pair = pairIndex(shape, stage, microbatch);
    const index = OPERATION_INDEX[op];
    if (--remaining[index][pair] === 0) makeReady(op, stage, microbatch);
  };
  // When (producer) finishes at `time`, wake its consumers, after the
  // communication delay when they run elsewhere.
  const release = (op: ComputeOperation, stage: number, microbatch: number, time: number) => {
    const consumers: Array<[ComputeOperation, number]> = [];
    if (op === 'F') {
      for (const next of activationConsumers(shape, stage)) consumers.push(['F', next]);
      if (!isForwardOnly(shape, stage)) consumers.push([backwardOp, stage]);
      // A shard's statistics let the other shards' T passes go.
      for (const peer of statisticsPeers(shape, stage)) consumers.push([backwardOp, peer]);
    } else if (op === backwardOp) {
      for (const previous of gradientConsumers(shape, stage)) consumers.push([backwardOp, previous]);
      if (op === 'I') consumers.push(['W', stage]);
    }
    for (const [consumerOp, consumerStage] of consumers) {
      const dependency = dependenciesOf(shape, consumerOp, consumerStage).find((dep) => dep.stage === stage && (dep.kind === 'F') === (op === 'F') && (dep.kind === 'I') === (consumerOp === 'W'));
      const delay = dependency ? dependencyDelay(costs, dependency) : 0;
      if (delay > 0) pushEvent(time + delay, 1, OPERATION_INDEX[consumerOp], pairIndex(shape, consumerStage, microbatch));
      else satisfy(consumerOp, consumerStage, microbatch);
    }
  };

  const tryStart = (d: number, now: number): boolean => {
    for (const queue of queues[d]) {
      if (queue.heap.size === 0) continue;
      if (queue.operation === 'F' && !queue.forwardOnly && (live[d] + 1 > rules.activationLimit[d] || stashLive[d] + 1 > stashLimit[d])) continue;
      if (queue.operation === 'F' && queue.reserve > 0) {
        // An F of a lower chunk leaves room for the microbatch's later
        // chunks on this device; otherwise a full device could never run
        // the later F that its oldest microbatch needs to finish.
        if (live[d] + 1 + queue.reserve > rules.activationLimit[d] || stashLive[d] + 1 + queue.reserve > stashLimit[d]) continue;
      }
      const code = queue.heap.pop();
      const stage = decodeStage(code);
      const microbatch = decodeMicrobatch(code);
      const op = queue.operation;
      const pair = pairIndex(shape, stage, microbatch);
      let duration = actionDuration(costs, op, stage);
      if (op === backwardOp) {
        backwardStarted[pair] = 1;
        while (nextBackward[stage] < microbatches && backwardStarted[pairIndex(shape, stage, nextBackward[stage])]) nextBackward[stage]++;
        issueReload(d, stage, microbatch, now);
        if (plan[pair] === CHECKPOINTED) {
          // Not rebuilt in idle time: the recompute runs right before its backward.
          emit(d, 'R', stage, microbatch);
          plan[pair] = REBUILT;
          fullStashes[d] += 1;
          duration += actionDuration(costs, 'R', stage);
        }
      }
      emit(d, op, stage, microbatch);
      // A forward-only stage's F keeps no stash: nothing to count, checkpoint or offload.
      if (op === 'F' && !queue.forwardOnly) {
        live[d] += 1;
        stashLive[d] += 1;
        plan[pair] = choosePlan(d, stage, microbatch);
        if (plan[pair] === PLAIN) fullStashes[d] += 1;
        else if (plan[pair] === OFFLOADED) {
          emit(d, 'O', stage, microbatch);
          // The reload cannot start before the offload has left the device.
          copyFree[d] = Math.max(copyFree[d], now + duration) + copyTime(stage);
          remaining[OPERATION_INDEX[backwardOp]][pair]++;
        }
      }
      busy[d] = 1;
      running[d] = { op, stage, microbatch };
      pushEvent(now + duration, 0, d, 0);
      return true;
    }
    return tryEarlyRecompute(d, now);
  };

  let now = 0;
  for (let d = 0; d < devices; d++) tryStart(d, now);
  while (heap.length > 0) {
    now = eventTime[heap[0]];
    // Apply every event at this instant before anyone picks, so choices see
    // all that has become ready at `now`.
    while (heap.length > 0 && eventTime[heap[0]] === now) {
      const id = popEvent();
      if (eventKind[id] === 0) {
        const d = eventA[id];
        const { op, stage, microbatch } = running[d];
        busy[d] = 0;
        if (op === 'R') continue;
        done++;
        if (op === 'B' || op === 'W') live[d] -= 1;
        if (op === 'B' || op === 'I') {
          stashLive[d] -= 1;
          fullStashes[d] -= 1;
        }
        release(op, stage, microbatch, now);
      } else {
        const opIndex = eventA[id];
        const pair = eventB[id];
        satisfy(operations.find((op) => OPERATION_INDEX[op] === opIndex)!, Math.floor(pair / microbatches), pair % microbatches);
      }
    }
    for (let d = 0; d < devices; d++) if (!busy[d]) tryStart(d, now);
  }
  if (done === total) return { ok: true, orders };
  const stuck: string[] = [];
  for (let d = 0; d < devices; d++) {
    const waitingF = queues[d].some((queue) => queue.operation === 'F' && queue.heap.size > 0);
    const scheduled = orders[d].filter((action) => !isMemoryOperation(action.operation)).length;
    const expected = deviceStages[d].reduce((sum, stage) => sum + operationsOfStage(shape, stage, rules.splitBackward).length, 0) * microbatches;
    if (scheduled < expected) {
      stuck.push(
        waitingF
          ? stashLive[d] + 1 > stashLimit[d]
            ? `device ${d} holds ${stashLive[d]} full stashes, its stash limit is ${stashLimit[d]}, and its next F cannot start before an I frees one`
            : `device ${d} holds ${live[d]} activations, its limit is ${rules.activationLimit[d]}, and its next F cannot start before one is freed`
          : `device ${d} ran ${scheduled} of ${expected} actions and waits for inputs that never come`,
      );
    }
  }
  return { ok: false, detail: stuck.join('; '), orders };
}

/** Wrap list-scheduled orders as a ComputeSchedule. */
export function scheduleFromOrders(name: string, shape: PipelineShape, splitBackward: boolean, orders: ComputeAction[][]): ComputeSchedule {
  return { ...shape, name, splitBackward, orders };
}
