// In-situ profiling: run the compiled pipeline itself for a few traced
// steps (the way it trains: worker threads, contention, routing, copies),
// drop the warm-up step, and read the cost model off the trace. The
// isolated profile (`profile(ir, { isolated: true })`) times each stage
// alone on one engine instead; it needs no runnable schedule but misses
// what the real run pays.

import type { CostModel, StageTimes } from '../compiler/cost/types.ts';
import type { IrProgram } from '../compiler/ir/types.ts';
import { now } from './interpreter.ts';
import type { TrainingSession } from './session.ts';
import type { TraceEvent } from './trace.ts';

const median = (values: readonly number[]): number | undefined => {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/**
 * Runs `steps` measured steps after one warm-up step on an open session,
 * with tracing, and returns the trace of each measured step (µs, one
 * origin per step).
 */
export async function traceSteps(session: TrainingSession, steps: number): Promise<TraceEvent[][]> {
  const traces: TraceEvent[][] = [];
  for (let step = 0; step < steps + 1; step++) {
    const traceOrigin = now();
    const summary = await session.step({ step, applyOptimizer: true, training: true, checkFinite: false, traceOrigin });
    if (step > 0) traces.push(summary.reports.flatMap((r) => r.events));
  }
  return traces;
}

interface Message {
  readonly sendStart: number;
  readonly sendDuration: number;
  recvWaitStart?: number;
  recvEnd?: number;
  recvDuration?: number;
  /** The sender's device time charged to this message (µs). */
  overhead?: number;
}

/**
 * The device time a send costs its sender: the gap between the compute
 * events around the send, less the time spent waiting for messages (the
 * simulator charges waits itself), shared among the sends in that gap —
 * reading back and posting the tensor, the bookkeeping instructions next to
 * it (load, free) and the event-loop turns a worker takes between them.
 * Without a compute event after the send: the send's own duration.
 */
function chargeSendOverheads(events: readonly TraceEvent[], messages: ReadonlyMap<string, Message>): void {
  const byDevice = new Map<number, TraceEvent[]>();
  for (const event of events) if (event.ph === 'X') byDevice.set(event.tid, [...(byDevice.get(event.tid) ?? []), event]);
  for (const [device, list] of byDevice) {
    list.sort((a, b) => a.ts - b.ts);
    let lastComputeEnd: number | undefined;
    let waited = 0;
    let sends: Message[] = [];
    for (const event of list) {
      const op = event.args?.op;
      if (event.cat === 'wait') waited += event.dur ?? 0;
      else if ((op === 'send_act' || op === 'send_grad') && typeof event.args?.tag === 'string') {
        const message = messages.get(`${device}>${String(event.args?.peer)}|${event.args.tag}`);
        if (message) {
          message.overhead = message.sendDuration;
          sends.push(message);
        }
      } else if (event.cat === 'compute') {
        if (lastComputeEnd !== undefined && sends.length > 0) {
          const share = Math.max(0, event.ts - lastComputeEnd - waited) / sends.length;
          for (const message of sends) message.overhead = Math.max(share, message.sendDuration / sends.length);
        }
        sends = [];
        waited = 0;
        lastComputeEnd = event.ts + (event.dur ?? 0);
      }
    }
  }
}

/**
 * The cost model of a traced run (seconds):
 *  - F, B, I, W per stage: median duration of its compute events. The loss
 *    (a compute event of the last stage, free in the simulator) is added to
 *    that stage's F. When the schedule fuses backward, I and W are B / 2
 *    each (the run never measures them apart);
 *  - sendActivationOverhead[s] / sendGradientOverhead[s]: the sender's
 *    device time per send (chargeSendOverheads), which the simulator charges
 *    to the sender;
 *  - sendActivation[s] / sendGradient[s]: per message crossing devices, from
 *    the end of the sender's send to the end of the receiver's recv (routing
 *    and the receiver's copy), over the messages whose receiver was already
 *    waiting when the send started (otherwise the receiver's own lateness
 *    would count); when there is no such message, the recv's own duration;
 *  - optimizerStep[s], allreduce[s]: median duration of those instructions
 *    (the allreduce without its rendezvous wait); hostBandwidth from the
 *    offloads, when there are any.
 */
export function costsFromTraces(ir: IrProgram, traces: readonly (readonly TraceEvent[])[]): CostModel {
  const stageCount = ir.stages.length;
  const samples = (): number[][] => ir.stages.map(() => []);
  const byOp: Record<string, number[][]> = {
    forward: samples(), loss: samples(), backward: samples(), backward_input: samples(), backward_weight: samples(),
    optimizer_step: samples(), allreduce: samples(), offload: samples(),
  };
  const transfer = { act: samples(), grad: samples() };
  const fallback = { act: samples(), grad: samples() };
  const overhead = { act: samples(), grad: samples() };
  for (const events of traces) {
    const messages = new Map<string, Message>();
    for (const event of events) {
      const op = event.args?.op;
      const stage = event.args?.stage;
      if (typeof op !== 'string' || typeof stage !== 'number' || event.ph !== 'X') continue;
      const seconds = (event.dur ?? 0) / 1e6;
      if (op in byOp) byOp[op][stage].push(seconds);
      const tag = event.args?.tag;
      const peer = event.args?.peer;
      if (typeof tag !== 'string' || typeof peer !== 'number') continue;
      if (op === 'send_act' || op === 'send_grad') {
        const key = `${event.tid}>${peer}|${tag}`;
        messages.set(key, { ...messages.get(key), sendStart: event.ts, sendDuration: event.dur ?? 0 });
      } else if (op === 'recv_act' || op === 'recv_grad') {
        const key = `${peer}>${event.tid}|${tag}`;
        const waited = typeof event.args?.waited === 'number' ? event.args.waited : 0;
        const entry = messages.get(key) ?? ({ sendStart: Number.NaN, sendDuration: 0 } as Message);
        entry.recvWaitStart = event.ts - waited;
        entry.recvEnd = event.ts + (event.dur ?? 0);
        entry.recvDuration = event.dur ?? 0;
        messages.set(key, entry);
      }
    }
    chargeSendOverheads(events, messages);
    for (const [key, message] of messages) {
      const tag = key.slice(key.indexOf('|') + 1);
      const [kind, stageText] = tag.split(':');
      const stage = Number(stageText);
      if ((kind !== 'act' && kind !== 'grad') || !(stage >= 0 && stage < stageCount)) continue;
      if (Number.isNaN(message.sendStart) || message.recvEnd === undefined || message.recvWaitStart === undefined) continue;
      if (message.overhead !== undefined) overhead[kind][stage].push(message.overhead / 1e6);
      fallback[kind][stage].push((message.recvDuration ?? 0) / 1e6);
      if (message.recvWaitStart <= message.sendStart) transfer[kind][stage].push(Math.max(0, message.recvEnd - message.sendStart - (message.overhead ?? message.sendDuration)) / 1e6);
    }
  }
  const stages: StageTimes[] = ir.stages.map((stage, s) => {
    const forward = (median(byOp.forward[s]) ?? 0) + (median(byOp.loss[s]) ?? 0);
    const fused = median(byOp.backward[s]);
    const backwardInput = median(byOp.backward_input[s]) ?? (fused !== undefined ? fused / 2 : 0);
    const backwardWeight = median(byOp.backward_weight[s]) ?? (fused !== undefined ? fused / 2 : 0);
    return { forward, backwardInput, backwardWeight, backward: fused ?? backwardInput + backwardWeight, activation: stage.activationBytes };
  });
  const crosses = (a: number, b: number): boolean => b >= 0 && b < stageCount && ir.stages[a].rank !== ir.stages[b].rank;
  const link = (kind: 'act' | 'grad', s: number): number => median(transfer[kind][s]) ?? median(fallback[kind][s]) ?? 0;
  const sendActivation = ir.stages.map((_, s) => (crosses(s, s + 1) ? link('act', s) : 0));
  const sendGradient = ir.stages.map((_, s) => (crosses(s, s - 1) ? link('grad', s) : 0));
  const sendActivationOverhead = ir.stages.map((_, s) => (crosses(s, s + 1) ? median(overhead.act[s]) ?? 0 : 0));
  const sendGradientOverhead = ir.stages.map((_, s) => (crosses(s, s - 1) ? median(overhead.grad[s]) ?? 0 : 0));
  const perStage = (op: string): number[] | undefined =>
    byOp[op].some((list) => list.length > 0) ? byOp[op].map((list) => median(list) ?? 0) : undefined;
  const optimizerStep = perStage('optimizer_step');
  const allreduce = perStage('allreduce');
  const offloads = ir.stages.flatMap((stage, s) => byOp.offload[s].filter((t) => t > 0).map((t) => stage.activationBytes / t));
  const hostBandwidth = median(offloads);
  return {
    kind: 'measured', stages, sendActivation, sendGradient, sendActivationOverhead, sendGradientOverhead,
    ...(optimizerStep ? { optimizerStep } : {}),
    ...(allreduce ? { allreduce } : {}),
    ...(hostBandwidth !== undefined ? { hostBandwidth } : {}),
  };
}
