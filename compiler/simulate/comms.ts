// Simulation of a comms-annotated order (SEND / RECV cells placed, as
// PyTorch's runtime runs them) under a cost model with link times: where a
// receive is posted now matters. Posted late, its transfer starts late and
// the consumer waits for the link; posted before its sender sends, it holds
// the rank's P2P stream and everything posted behind it (head-of-line,
// pytorch/pytorch#188833). The semantics are those of the deadlock proof
// (compiler/schedule/commsExecution.ts), timed: compute takes its stage's
// cost, a SEND costs its sender the send overhead, a send and its receive
// start together once both are at the heads of their streams and end the
// producing stage's link time later; a compute starts when its thread is
// free and its receives have ended.

import type { CostModel } from '../cost/types.ts';
import type { CommsOrder } from '../lower/commsOrder.ts';
import { executeCommsOrder, type CommsProblem } from '../schedule/commsExecution.ts';

export interface CommsSimulation {
  readonly makespan: number;
  /** Per rank: when its last cell and its last transfer were done. */
  readonly finish: readonly number[];
  /** Per rank: time its thread waited for receives. */
  readonly receiveWait: readonly number[];
  /** Per rank: time transfers posted at both ends waited behind earlier operations on this rank's stream (head-of-line). */
  readonly headOfLineWait: readonly number[];
  /** Empty when every rank finished. */
  readonly problems: readonly CommsProblem[];
}

export function simulateCommsOrder(order: CommsOrder, costs: CostModel): CommsSimulation {
  if (costs.stages.length < order.schedule.stages) {
    throw new Error(`simulateCommsOrder: the cost model has ${costs.stages.length} stages, the order uses ${order.schedule.stages}`);
  }
  const run = executeCommsOrder(order, costs);
  return {
    makespan: run.finish.reduce((latest, time) => Math.max(latest, time), 0),
    finish: run.finish,
    receiveWait: run.receiveWait,
    headOfLineWait: run.headOfLineWait,
    problems: run.problems,
  };
}
