// Communication lowering for PyTorch's runtime (_PipelineScheduleRuntime's
// compute_comms format): where each rank's SEND_F / RECV_F / SEND_B /
// RECV_B actions go in its row. docs/torch-comms.md explains the choice.
//
// On PyTorch's runtime a RECV action posts the receive (batch_isend_irecv)
// and the compute that consumes it waits for it; a SEND posts the send.
// Under NCCL the posted operations of a rank run in order on one stream, so
// a receive posted long before its sender sends holds up everything posted
// after it on that rank (pytorch/pytorch#188833: Interleaved1F1B's
// warm-up). PyTorch's own lowering (_add_send_recv) walks the ranks in
// turns, one compute action per rank per turn, and puts each RECV at the
// receiver's row end in the turn its sender computes: turns are time only
// when every action costs the same and links are free.
//
// pipec's lowering walks the same way but in simulated time: the compute
// order is timed under the cost model with its link times, and actions are
// emitted in order of their end times, so each RECV lands on the
// receiver's row at the point where its data is produced. Both lowerings
// emit one global sequence in which a send and its receive are one event,
// so every pair of ranks posts its messages in the same order on both
// sides; that is what makes the result deadlock-free even when a send
// waits for its receive (compiler/schedule/deadlock.ts proves it per order).

import type { CostModel } from '../cost/types.ts';
import { actionDuration, isFirstStageOfCopy, isLastStageOfCopy } from '../schedule/actions.ts';
import { executeCommsOrder } from '../schedule/commsExecution.ts';
import type { ComputeAction, ComputeSchedule } from '../schedule/types.ts';
import { computeUnits, producedTransfer, transferKey, type CommsAction, type CommsOrder, type TransferDirection } from './commsOrder.ts';

export * from './commsOrder.ts';

/**
 * pipec's lowering: each RECV where its data is produced. The lowering
 * runs the order in simulated time under `costs` (compute from the stage
 * costs, every transfer its link time, in the same semantics the
 * simulator and the proof use: each rank's transfers in order on one
 * stream, a send and its receive together) and emits the ranks' units in
 * order of their end times (ties: units that send nothing, then start,
 * then rank), each only once its inputs are emitted. A unit's SENDs follow
 * it on its row; each matching RECV goes to the receiver's row end at that
 * moment: after the receiver's actions that end by the time the data
 * leaves, before the one running then. So a receive is posted as its data
 * is sent and no earlier, and with one global sequence of events both ends
 * of every rank pair post their transfers in the same order. `costs`
 * should carry the link times (the cluster's latency); with free links the
 * compute order's own timing decides.
 */
export function lowerCommunicationInTime(schedule: ComputeSchedule, costs: CostModel): CommsOrder {
  return lowerInTime(schedule, costs).order;
}

/** The placement in simulated time, and the makespan that simulation reached (the order's own, send overheads aside). */
function lowerInTime(schedule: ComputeSchedule, costs: CostModel): { order: CommsOrder; makespan: number } {
  const { stages, microbatches, stageDevice } = schedule;
  const shape = { stages, microbatches };
  const units = schedule.orders.map(computeUnits);
  const rows: CommsAction[][] = schedule.orders.map(() => []);
  // arrival[key]: when a transfer (or same-rank hand-off) is at its consumer; NaN until its producer is emitted.
  const arrival = new Float64Array(2 * stages * microbatches).fill(Number.NaN);
  const threadFree = new Float64Array(schedule.devices);
  const streamFree = new Float64Array(schedule.devices);
  const gradientsDone = new Int32Array(stages);
  const next = new Int32Array(schedule.devices);
  const heap = new KeyHeap();
  const waiting = new Int32Array(2 * stages * microbatches).fill(-1); // transfer key → rank whose next unit waits for it
  const tentativeStart = new Float64Array(schedule.devices);
  const tentativeEnd = new Float64Array(schedule.devices);
  // On equal end times a unit that sends nothing goes first: a receiver's
  // action that ends as the data leaves belongs before the RECV.
  const sends = (unit: readonly ComputeAction[]) => (unit.some((action) => producedTransfer(action, schedule) !== undefined) ? 1 : 0);
  const offer = (rank: number) => {
    if (next[rank] >= units[rank].length) return;
    const unit = units[rank][next[rank]];
    // The halves of an overlap cell run one after the other on PyTorch's
    // runtime, each once its own input is there.
    let start = Number.NaN;
    let end = threadFree[rank];
    for (const action of unit) {
      const input = inputKey(action, schedule, shape);
      if (input !== undefined && Number.isNaN(arrival[input])) {
        waiting[input] = rank;
        return;
      }
      const begin = input === undefined ? end : Math.max(end, arrival[input]);
      if (Number.isNaN(start)) start = begin;
      end = begin + actionDuration(costs, action.operation, action.stage);
    }
    tentativeStart[rank] = start;
    tentativeEnd[rank] = end;
    heap.push([end, sends(unit), start, rank], rank);
  };
  for (let rank = 0; rank < schedule.devices; rank++) offer(rank);
  let remaining = units.reduce((sum, list) => sum + list.length, 0);
  while (remaining > 0) {
    const rank = heap.pop();
    if (rank === undefined) throw new Error('lowerCommunication: the compute order cannot be lowered to sends and receives (validate it first)');
    const unit = units[rank][next[rank]];
    const end = tentativeEnd[rank];
    threadFree[rank] = end;
    rows[rank].push({ kind: 'compute', actions: unit });
    const woken: number[] = [];
    for (const action of unit) {
      const output = outputKey(action, schedule, shape);
      if (output === undefined) continue;
      const sent = producedTransfer(action, schedule);
      if (output.crossRank && sent !== undefined) {
        const peer = stageDevice[sent.receiver];
        postTransfer(rows, rank, peer, action, sent);
        // The receive is posted when the receiver's thread reaches it: the end of its last emitted unit.
        const start = Math.max(end, streamFree[rank], threadFree[peer], streamFree[peer]);
        const done = start + linkTime(costs, action);
        streamFree[rank] = done;
        streamFree[peer] = done;
        arrival[output.key] = done;
      } else {
        arrival[output.key] = end;
      }
      const waiter = waiting[output.key];
      if (waiter !== -1) {
        waiting[output.key] = -1;
        woken.push(waiter);
      }
    }
    for (const action of unit) {
      if (action.operation !== 'B' && action.operation !== 'W') continue;
      if (++gradientsDone[action.stage] === microbatches) rows[rank].push({ kind: 'reduce_grad', stage: action.stage });
    }
    next[rank]++;
    remaining--;
    offer(rank);
    for (const other of woken) if (other !== rank) offer(other);
  }
  let makespan = 0;
  for (let rank = 0; rank < schedule.devices; rank++) makespan = Math.max(makespan, threadFree[rank], streamFree[rank]);
  return { order: { schedule, lowering: 'pipec', placement: 'simulated time', rows }, makespan };
}

/**
 * The `--comms` lowering: the placement in simulated time
 * (lowerCommunicationInTime), unless the turn-based placement PyTorch uses
 * runs faster under `costs` (it can, when the links are as slow as the
 * compute and every rank's stream is saturated: the time-driven order then
 * posts a receive ahead of the receiver's own send). Both are one global
 * sequence of events, so either is deadlock-free; `placement` says which
 * one was kept.
 */
export function lowerCommunication(schedule: ComputeSchedule, costs: CostModel): CommsOrder {
  const timed = lowerInTime(schedule, costs);
  // With free links every transfer starts as its producer ends, so the
  // time-driven order reaches the compute order's own makespan, which no
  // placement can beat: nothing to compare.
  const overheads = [...(costs.sendActivationOverhead ?? []), ...(costs.sendGradientOverhead ?? [])].some((time) => time > 0);
  if (!overheads && [...costs.sendActivation, ...costs.sendGradient].every((time) => time === 0)) return timed.order;
  const makespan = (order: CommsOrder) => {
    const run = executeCommsOrder(order, costs);
    return run.finished ? run.finish.reduce((latest, time) => Math.max(latest, time), 0) : Number.POSITIVE_INFINITY;
  };
  const turns = lowerCommunicationLikePyTorch(schedule);
  const timedMakespan = overheads ? makespan(timed.order) : timed.makespan;
  return makespan(turns) < timedMakespan ? { ...turns, lowering: 'pipec', placement: 'turns' } : timed.order;
}

function linkTime(costs: CostModel, action: ComputeAction): number {
  return (action.operation === 'F' ? costs.sendActivation[action.stage] : costs.sendGradient[action.stage]) ?? 0;
}

/** What an action waits for on another stage (same rank or not), as a transfer key. */
function inputKey(action: ComputeAction, schedule: ComputeSchedule, shape: { stages: number; microbatches: number }): number | undefined {
  if (action.operation === 'F') return !isFirstStageOfCopy(schedule, action.stage) ? transferKey('forward', action.stage - 1, action.microbatch, shape) : undefined;
  if (action.operation === 'B' || action.operation === 'I') {
    return !isLastStageOfCopy(schedule, action.stage) ? transferKey('backward', action.stage + 1, action.microbatch, shape) : undefined;
  }
  return undefined;
}

function outputKey(action: ComputeAction, schedule: ComputeSchedule, shape: { stages: number; microbatches: number }): { key: number; crossRank: boolean } | undefined {
  const rank = schedule.stageDevice[action.stage];
  if (action.operation === 'F' && !isLastStageOfCopy(schedule, action.stage)) {
    return { key: transferKey('forward', action.stage, action.microbatch, shape), crossRank: schedule.stageDevice[action.stage + 1] !== rank };
  }
  if ((action.operation === 'B' || action.operation === 'I') && !isFirstStageOfCopy(schedule, action.stage)) {
    return { key: transferKey('backward', action.stage, action.microbatch, shape), crossRank: schedule.stageDevice[action.stage - 1] !== rank };
  }
  return undefined;
}

type EmissionKey = readonly number[];

/**
 * For every unit, the first `count` distinct stages from it on (PyTorch's
 * next_stage_indices). Without overlap groups, from the back in one pass:
 * the stages from unit k on are k's stage, then those from k+1 on without
 * it. A row with overlap groups (which add all their stages at once and may
 * pass `count`) is scanned forward from each unit, as PyTorch does.
 */
function nextStagesEverywhere(units: readonly (readonly ComputeAction[])[], count: number): number[][] {
  if (units.some((unit) => unit.length > 1)) return units.map((_, index) => nextStages(units, index, count));
  const result: number[][] = new Array(units.length);
  let after: number[] = [];
  for (let k = units.length - 1; k >= 0; k--) {
    const stage = units[k][0].stage;
    const here = [stage];
    for (const other of after) {
      if (here.length === count) break;
      if (other !== stage) here.push(other);
    }
    result[k] = here;
    after = here;
  }
  return result;
}

/** The first `count` distinct stages from unit `from` on (next_stage_indices; an overlap group adds all its stages). */
function nextStages(units: readonly (readonly ComputeAction[])[], from: number, count: number): number[] {
  const seen: number[] = [];
  for (let k = from; k < units.length; k++) {
    const unit = units[k];
    if (unit.length > 1) {
      for (const action of unit) if (!seen.includes(action.stage)) seen.push(action.stage);
      if (seen.length >= count) break;
    } else if (!seen.includes(unit[0].stage)) {
      seen.push(unit[0].stage);
      if (seen.length === count) break;
    }
  }
  return seen;
}

/** A binary min-heap of ranks by lexicographic key. */
class KeyHeap {
  private readonly keys: EmissionKey[] = [];
  private readonly ranks: number[] = [];

  push(key: EmissionKey, rank: number): void {
    this.keys.push(key);
    this.ranks.push(rank);
    let i = this.keys.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareKeys(this.keys[parent], this.keys[i]) <= 0) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): number | undefined {
    if (this.keys.length === 0) return undefined;
    const top = this.ranks[0];
    const lastKey = this.keys.pop()!;
    const lastRank = this.ranks.pop()!;
    if (this.keys.length > 0) {
      this.keys[0] = lastKey;
      this.ranks[0] = lastRank;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < this.keys.length && compareKeys(this.keys[left], this.keys[smallest]) < 0) smallest = left;
        if (right < this.keys.length && compareKeys(this.keys[right], this.keys[smallest]) < 0) smallest = right;
        if (smallest === i) break;
        this.swap(i, smallest);
        i = smallest;
      }
    }
    return top;
  }

  private swap(a: number, b: number): void {
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
    [this.ranks[a], this.ranks[b]] = [this.ranks[b], this.ranks[a]];
  }
}

function compareKeys(a: EmissionKey, b: EmissionKey): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * PyTorch 2.13's lowering of a compute-only order, as its runtime runs a
 * compute_only CSV (_prepare_schedule_with_comms: _add_reduce_grad, then
 * _add_send_recv), for comparing without PyTorch at hand. The ranks advance
 * in turns, one action per rank per turn in rank order; REDUCE_GRAD is an
 * action of its own and takes a turn; a rank whose next action lacks its
 * input (no RECV on its row yet, nor the producer on the rank itself) skips
 * the turn. A SEND follows its compute; the RECV goes to the receiver's row
 * end at once. FSDP's UNSHARD / RESHARD actions (_add_unshard_reshard),
 * which PyTorch adds first, take their turns too but are left out of the
 * rows: without FSDP they do nothing. test/lower/comms.test.ts holds this
 * against PyTorch's own output (test/fixtures/torch-comms/).
 */
export function lowerCommunicationLikePyTorch(schedule: ComputeSchedule): CommsOrder {
  const { stages, microbatches, stageDevice } = schedule;
  const shape = { stages, microbatches };
  type Step = { readonly unit: readonly ComputeAction[] } | { readonly reduceGrad: number } | { readonly fsdp: 'unshard' | 'reshard' };
  const steps: Step[][] = schedule.orders.map((order) => {
    const units = computeUnits(order);
    const counted = new Map<number, number>();
    const active = new Set<number>();
    const list: Step[] = [];
    const upcomingStages = nextStagesEverywhere(units, 3);
    units.forEach((unit, index) => {
      // _add_unshard_reshard (max_active_stages = 3): before each action,
      // RESHARD the active stages not among the next three distinct ones,
      // UNSHARD those of them not active yet.
      const upcoming = upcomingStages[index];
      for (const stage of [...active]) {
        if (upcoming.includes(stage)) continue;
        active.delete(stage);
        list.push({ fsdp: 'reshard' });
      }
      for (const stage of upcoming) {
        if (active.has(stage)) continue;
        active.add(stage);
        list.push({ fsdp: 'unshard' });
      }
      list.push({ unit });
      // _add_reduce_grad: REDUCE_GRAD right after each stage's m-th B or W.
      for (const action of unit) {
        if (action.operation !== 'B' && action.operation !== 'W') continue;
        const done = (counted.get(action.stage) ?? 0) + 1;
        counted.set(action.stage, done);
        if (done === microbatches) list.push({ reduceGrad: action.stage });
      }
    });
    for (let k = 0; k < active.size; k++) list.push({ fsdp: 'reshard' });
    return list;
  });
  const rows: CommsAction[][] = schedule.orders.map(() => []);
  // onRow[rank] has the transfer keys whose RECV (or same-rank producer) is already on the rank's row.
  const onRow = schedule.orders.map(() => new Uint8Array(2 * stages * microbatches));
  const ready = (rank: number, action: ComputeAction) => {
    const input = inputKey(action, schedule, shape);
    return input === undefined || onRow[rank][input] === 1;
  };
  const next = new Int32Array(schedule.devices);
  let remaining = steps.reduce((sum, list) => sum + list.length, 0);
  while (remaining > 0) {
    let progress = false;
    for (let rank = 0; rank < schedule.devices; rank++) {
      if (next[rank] >= steps[rank].length) continue;
      const step = steps[rank][next[rank]];
      if ('fsdp' in step) {
        // A turn taken, nothing for pipec's rows: FSDP's cells do nothing without FSDP.
      } else if ('reduceGrad' in step) {
        rows[rank].push({ kind: 'reduce_grad', stage: step.reduceGrad });
      } else {
        if (!step.unit.every((action) => ready(rank, action))) continue;
        rows[rank].push({ kind: 'compute', actions: step.unit });
        for (const action of step.unit) {
          const output = outputKey(action, schedule, shape);
          if (output === undefined) continue;
          const sent = producedTransfer(action, schedule);
          if (output.crossRank && sent !== undefined) {
            const peer = stageDevice[sent.receiver];
            postTransfer(rows, rank, peer, action, sent);
            onRow[peer][output.key] = 1;
          } else {
            onRow[rank][output.key] = 1;
          }
        }
      }
      next[rank]++;
      remaining--;
      progress = true;
    }
    if (!progress) throw new Error('lowerCommunicationLikePyTorch: malformed compute schedule, cannot schedule sends/recvs');
  }
  return { schedule, lowering: 'pytorch', placement: 'turns', rows };
}

/** A transfer is one event of both rows: the sender's SEND and the receiver's RECV, posted together. */
function postTransfer(
  rows: CommsAction[][], rank: number, peer: number, action: ComputeAction, sent: { readonly direction: TransferDirection; readonly receiver: number },
): void {
  rows[rank].push({ kind: 'send', direction: sent.direction, stage: action.stage, microbatch: action.microbatch, peer });
  rows[peer].push({ kind: 'recv', direction: sent.direction, stage: sent.receiver, microbatch: action.microbatch, peer: rank });
}
