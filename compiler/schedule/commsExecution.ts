// How PyTorch's runtime runs a comms-annotated order (compute_comms CSV),
// executed abstractly for the deadlock proof and with times for the
// simulator. The semantics are the strictest PyTorch can meet, NCCL's:
//  - each rank's thread runs its row in order. A SEND or RECV cell posts the
//    operation (batch_isend_irecv) and goes on; a compute cell waits until
//    every RECV it consumes has completed (_PipelineScheduleRuntime waits
//    on them there; the halves of an OVERLAP_F_B cell one after the other,
//    each for its own), and a compute whose input no earlier RECV on its row
//    brings is an error (PyTorch: "Computing ... before receiving input");
//  - each rank's posted operations run in order on its one P2P stream;
//  - a SEND at the head of its rank's stream and the RECV it is paired with
//    at the head of the peer's stream run together (a rendezvous) and both
//    complete after the link time. Two heads that face each other but name
//    different transfers would swap their data (NCCL pairs a rank pair's
//    operations by order, not by tag): an error.
// Everything a looser transport allows (gloo's tagged, buffered messages)
// is allowed here too, so an order that finishes here finishes there.
// The execution is a fixpoint over the ranks; its result does not depend
// on the order the ranks are visited in (the times are max-plus in the
// posted order), so one run decides every interleaving.

import type { CostModel } from '../cost/types.ts';
import { commsCell, consumedTransfer, producingStage, transferKey, type CommsAction, type CommsOrder, type TransferAction } from '../lower/commsOrder.ts';
import { actionDuration, actionLabel } from './actions.ts';
import type { ComputeAction } from './types.ts';

export type CommsProblemKind = 'deadlock' | 'missing-receive' | 'mismatched-pair' | 'received-twice';

export interface CommsProblem {
  readonly kind: CommsProblemKind;
  readonly rank: number;
  /** Position of the offending cell in the rank's row. */
  readonly index: number;
  readonly action: CommsAction;
  /** What the rank waits for, or what is wrong. */
  readonly detail: string;
}

export interface CommsExecution {
  readonly finished: boolean;
  /** Per rank: cells its thread completed. */
  readonly completed: readonly number[];
  /** One per rank that could not finish (deadlock), or per cell that is wrong. */
  readonly problems: readonly CommsProblem[];
  /** With costs: per rank, when its thread and its stream were both done. */
  readonly finish: readonly number[];
  /** With costs: per rank, time its thread spent waiting for receives. */
  readonly receiveWait: readonly number[];
  /**
   * With costs: per rank, how long transfers waited, after both ends had
   * posted them, for earlier operations on this rank's stream (head-of-line).
   */
  readonly headOfLineWait: readonly number[];
}

/** Runs the rows; with `costs`, times them (compute from the stage costs, each transfer the link time of its producing stage). */
export function executeCommsOrder(order: CommsOrder, costs?: CostModel): CommsExecution {
  const { schedule, rows } = order;
  const shape = { stages: schedule.stages, microbatches: schedule.microbatches };
  const ranks = rows.length;
  const keyOf = (action: TransferAction) => transferKey(action.direction, producingStage(action), action.microbatch, shape);
  const transfers = 2 * shape.stages * shape.microbatches;
  const received = new Uint8Array(transfers);
  const posted = new Uint8Array(transfers);
  const receivedAt = new Float64Array(transfers);
  // Each rank's stream: the row positions of its SEND / RECV cells.
  const stream = rows.map((row) => row.flatMap((action, index) => (action.kind === 'send' || action.kind === 'recv' ? [index] : [])));
  const postedAt = rows.map((row) => new Float64Array(row.length));
  const thread = new Int32Array(ranks);
  const head = new Int32Array(ranks);
  const threadFree = new Float64Array(ranks);
  const streamFree = new Float64Array(ranks);
  const receiveWait = new Float64Array(ranks);
  const headOfLineWait = new Float64Array(ranks);
  const problems: CommsProblem[] = [];
  const halted = new Uint8Array(ranks);
  const halt = (rank: number, kind: CommsProblemKind, index: number, detail: string) => {
    halted[rank] = 1;
    problems.push({ kind, rank, index, action: rows[rank][index], detail });
  };

  const duration = (part: ComputeAction): number => (costs ? actionDuration(costs, part.operation, part.stage) : 0);
  const sendOverhead = (action: TransferAction): number => {
    const overhead = action.direction === 'forward' ? costs?.sendActivationOverhead : costs?.sendGradientOverhead;
    return overhead?.[action.stage] ?? 0;
  };
  const link = (action: TransferAction): number => {
    if (!costs) return 0;
    const producer = producingStage(action);
    return (action.direction === 'forward' ? costs.sendActivation[producer] : costs.sendGradient[producer]) ?? 0;
  };

  /** Moves the rank's thread as far as it can; true when it moved. */
  const advanceThread = (rank: number): boolean => {
    const row = rows[rank];
    const start = thread[rank];
    while (thread[rank] < row.length && halted[rank] === 0) {
      const index = thread[rank];
      const action = row[index];
      if (action.kind === 'send' || action.kind === 'recv') {
        if (action.kind === 'recv') {
          const key = keyOf(action);
          if (posted[key] === 1) {
            halt(rank, 'received-twice', index, `${commsCell(action)} is posted a second time before its data is used (PyTorch: "Recv twice")`);
            break;
          }
          posted[key] = 1;
        }
        postedAt[rank][index] = threadFree[rank];
        if (action.kind === 'send') threadFree[rank] += sendOverhead(action);
        thread[rank]++;
        continue;
      }
      if (action.kind === 'compute') {
        let waiting = false;
        for (const part of action.actions) {
          const input = consumedTransfer(part, schedule);
          if (input === undefined) continue;
          const key = transferKey(input.direction, input.producer, part.microbatch, shape);
          if (posted[key] === 0) {
            halt(rank, 'missing-receive', index, `${actionLabel(part)} needs the ${input.direction === 'forward' ? 'activation' : 'gradient'} of stage ${input.producer}, microbatch ${part.microbatch}, but no ${part.stage}RECV_${input.direction === 'forward' ? 'F' : 'B'}${part.microbatch} comes before it on rank ${rank}'s row (PyTorch: "Computing ... before receiving input")`);
            waiting = true;
            break;
          }
          if (received[key] === 0) {
            waiting = true;
            break;
          }
        }
        if (waiting) break;
        // The halves of an overlap cell run one after the other, each once its own input is there.
        let time = threadFree[rank];
        for (const part of action.actions) {
          const input = consumedTransfer(part, schedule);
          if (input !== undefined) {
            const key = transferKey(input.direction, input.producer, part.microbatch, shape);
            posted[key] = 0;
            if (receivedAt[key] > time) {
              receiveWait[rank] += receivedAt[key] - time;
              time = receivedAt[key];
            }
          }
          time += duration(part);
        }
        threadFree[rank] = time;
      }
      thread[rank]++;
    }
    return thread[rank] !== start;
  };

  /** Pairs the rank's stream head with its peer's when they face each other; true when a pair ran. */
  const advanceStream = (rank: number): boolean => {
    let moved = false;
    while (head[rank] < stream[rank].length && halted[rank] === 0) {
      const index = stream[rank][head[rank]];
      if (index >= thread[rank]) break; // not posted yet
      const action = rows[rank][index] as TransferAction;
      const peer = action.peer;
      if (peer < 0 || peer >= ranks || peer === rank || halted[peer] === 1) break;
      if (head[peer] >= stream[peer].length) break;
      const peerIndex = stream[peer][head[peer]];
      if (peerIndex >= thread[peer]) break;
      const other = rows[peer][peerIndex] as TransferAction;
      if (other.peer !== rank || other.kind === action.kind) break;
      if (keyOf(other) !== keyOf(action) || other.direction !== action.direction) {
        const [send, sendRank, sendIndex, recv, recvRank] = action.kind === 'send' ? [action, rank, index, other, peer] : [other, peer, peerIndex, action, rank];
        halt(sendRank, 'mismatched-pair', sendIndex, `${commsCell(send)} on rank ${sendRank} meets ${commsCell(recv)} on rank ${recvRank}: the two ranks post their messages in different orders, so this pair would swap data`);
        halted[recvRank] = 1;
        break;
      }
      // Both posted: the pair could start then, but for earlier operations still on a stream.
      const bothPosted = Math.max(postedAt[rank][index], postedAt[peer][peerIndex]);
      const start = Math.max(bothPosted, streamFree[rank], streamFree[peer]);
      if (start > bothPosted) headOfLineWait[streamFree[rank] >= streamFree[peer] ? rank : peer] += start - bothPosted;
      const end = start + link(action);
      streamFree[rank] = end;
      streamFree[peer] = end;
      const key = keyOf(action);
      received[key] = 1;
      receivedAt[key] = end;
      head[rank]++;
      head[peer]++;
      moved = true;
    }
    return moved;
  };

  let progress = true;
  while (progress) {
    progress = false;
    for (let rank = 0; rank < ranks; rank++) {
      if (advanceThread(rank)) progress = true;
      if (advanceStream(rank)) progress = true;
    }
  }

  const finished = rows.every((row, rank) => thread[rank] === row.length && head[rank] === stream[rank].length);
  if (!finished) {
    for (let rank = 0; rank < ranks; rank++) {
      if (halted[rank] === 1 || (thread[rank] === rows[rank].length && head[rank] === stream[rank].length)) continue;
      const streamHead = head[rank] < stream[rank].length ? stream[rank][head[rank]] : undefined;
      const headText = streamHead === undefined ? '' : `; its stream waits at ${commsCell(rows[rank][streamHead])} for rank ${(rows[rank][streamHead] as TransferAction).peer}`;
      if (thread[rank] < rows[rank].length) {
        problems.push({ kind: 'deadlock', rank, index: thread[rank], action: rows[rank][thread[rank]], detail: `rank ${rank} is stuck at ${commsCell(rows[rank][thread[rank]])} (cell ${thread[rank]}) waiting for its receive${headText}` });
      } else if (streamHead !== undefined) {
        problems.push({ kind: 'deadlock', rank, index: streamHead, action: rows[rank][streamHead], detail: `rank ${rank} finished its row, but its stream is stuck at ${commsCell(rows[rank][streamHead])} waiting for rank ${(rows[rank][streamHead] as TransferAction).peer}` });
      }
    }
  }
  return {
    finished: finished && problems.length === 0,
    completed: Array.from(thread),
    problems,
    finish: Array.from({ length: ranks }, (_, rank) => Math.max(threadFree[rank], streamFree[rank])),
    receiveWait: Array.from(receiveWait),
    headOfLineWait: Array.from(headOfLineWait),
  };
}
