// Vocabulary parallelism in the schedule phases: the shard stages' passes
// (S = a shard's F, T = its B or I + W) wait for what the paper's passes
// wait for — S for the last model stage's output (the broadcast), T for
// every shard's S (the all-reduce C0 of maxima and sums), the last model
// stage's backward for every shard's T (the reduce C1 of the input
// gradients) — in the timing, the lowering, the deadlock proof and the
// simulator alike; and with a large vocabulary the shards even out the work
// and memory that plain 1F1B leaves on the last stage.

import { describe, expect, it } from 'vitest';
import { validateIr } from '../../compiler/ir/schema.ts';
import { bareScheduleIr } from '../../compiler/lower/bare.ts';
import { lowerToInstructionStreams, unitStageInfo } from '../../compiler/lower/lower.ts';
import { builtinSchedule } from '../../compiler/schedule/builtin.ts';
import { proveDeadlockFree } from '../../compiler/schedule/deadlock.ts';
import { evaluateSchedule } from '../../compiler/schedule/evaluate.ts';
import { peakActivations } from '../../compiler/schedule/memory.ts';
import type { ComputeSchedule, PipelineShape } from '../../compiler/schedule/types.ts';
import { timeSchedule } from '../../compiler/schedule/unitTiming.ts';
import { validateSchedule } from '../../compiler/schedule/validate.ts';
import { simulate } from '../../compiler/simulate/simulate.ts';
import type { CostModel, StageTimes } from '../../compiler/cost/types.ts';
import { unitCostModel } from '../../compiler/cost/types.ts';
import { declarationFrom } from './helpers.ts';

function vocab(name: string, p: number, m: number, costs?: CostModel): ComputeSchedule {
  const built = builtinSchedule(name, { devices: p, microbatches: m }, costs === undefined ? {} : { costs });
  expect(built.diagnostics.map((d) => d.message)).toEqual([]);
  return built.schedule!;
}

/** Finish (and start) time of an action in a timed schedule. */
function timed(schedule: ComputeSchedule, timing: ReturnType<typeof timeSchedule>, operation: string, stage: number, microbatch: number) {
  const device = schedule.stageDevice[stage];
  const k = schedule.orders[device].findIndex((action) => action.operation === operation && action.stage === stage && action.microbatch === microbatch);
  expect(k).toBeGreaterThanOrEqual(0);
  return { start: timing.start[device][k], finish: timing.finish[device][k] };
}

describe('the shard stages of a vocabulary-parallel schedule', () => {
  it('follow the model stages, one per device, and their passes wait for the broadcast, every S and every T', () => {
    const p = 4;
    const m = 8;
    const schedule = vocab('1f1b_vocab', p, m);
    expect(schedule.stages).toBe(2 * p);
    expect(schedule.vocabShards).toBe(p);
    expect(schedule.stageDevice.slice(p)).toEqual([0, 1, 2, 3]);
    expect(validateSchedule(schedule)).toEqual([]);
    const timing = timeSchedule(schedule);
    for (let i = 0; i < m; i++) {
      const lastForward = timed(schedule, timing, 'F', p - 1, i);
      const sPasses = [0, 1, 2, 3].map((k) => timed(schedule, timing, 'F', p + k, i));
      const tPasses = [0, 1, 2, 3].map((k) => timed(schedule, timing, 'B', p + k, i));
      const lastBackward = timed(schedule, timing, 'B', p - 1, i);
      for (const s of sPasses) expect(s.start).toBeGreaterThanOrEqual(lastForward.finish);
      const allS = Math.max(...sPasses.map((s) => s.finish));
      for (const t of tPasses) expect(t.start).toBeGreaterThanOrEqual(allS);
      expect(lastBackward.start).toBeGreaterThanOrEqual(Math.max(...tPasses.map((t) => t.finish)));
    }
  });

  it('lower to the broadcast, the statistics exchange and the summed gradient, proven deadlock-free and valid IR', () => {
    const p = 4;
    const m = 8;
    const schedule = vocab('1f1b_vocab', p, m);
    const ir = bareScheduleIr(schedule);
    expect(validateIr(ir).errors).toEqual([]);
    expect(proveDeadlockFree(ir).deadlockFree).toBe(true);
    const count = (rank: number, op: string, named = true) => ir.devices[rank].instructions.filter((i) => i.op === op && (i.peerStage !== undefined) === named).length;
    for (let rank = 0; rank < p; rank++) {
      // each S sends its statistics to the other p - 1 shards; each T receives theirs
      expect(count(rank, 'send_stats')).toBe((p - 1) * m);
      expect(count(rank, 'recv_stats')).toBe((p - 1) * m);
      // each shard takes the last model stage's output and sends its part of the input gradient back
      expect(count(rank, 'recv_act')).toBe(m);
      expect(count(rank, 'send_grad')).toBe(m);
    }
    // the last model stage sends its output to every shard and sums the gradients of all of them
    expect(count(p - 1, 'send_act')).toBe(p * m);
    expect(count(p - 1, 'recv_grad')).toBe(p * m);
    // the model's own chain keeps its neighbour messages
    expect(count(0, 'send_act', false)).toBe(m);
    const lastBackward = ir.devices[p - 1].instructions.findIndex((i) => i.op === 'backward' && i.stage === p - 1 && i.microbatch === 0);
    const gradients = ir.devices[p - 1].instructions.slice(0, lastBackward).filter((i) => i.op === 'recv_grad' && i.microbatch === 0);
    expect(gradients.map((i) => i.peerStage)).toEqual([4, 5, 6, 7]);
  });

  it('the simulator runs the same passes to the timing\'s makespan under unit costs', () => {
    for (const name of ['1f1b_vocab', 'v_half_vocab']) {
      const schedule = vocab(name, 4, 8);
      const ir = bareScheduleIr(schedule);
      const simulated = simulate(ir.devices.map(({ rank, instructions }) => ({ rank, instructions })), unitCostModel(schedule.stages), { vocabShardsFrom: schedule.stages - 4, detail: true });
      expect(simulated.stuck).toEqual([]);
      expect(simulated.makespan).toBe(timeSchedule(schedule).makespan);
      const kinds = new Set(simulated.devices.flatMap((device) => device.timeline.map((interval) => interval.kind)));
      expect(kinds.has('S') && kinds.has('T')).toBe(true);
    }
  });

  it('an explicit order places S and T (or F[i, v] and B[i, v]); one whose T passes wait for each other deadlocks', () => {
    const shape: PipelineShape = { devices: 2, microbatches: 2, stages: 4, stageDevice: [0, 1, 0, 1], vocabShards: 2 };
    const good = evaluateSchedule(declarationFrom(`schedule gpipe_vocab(p, m) {
  requires vocab parallel
  on device d {
    F[0..m]
    for i in 0..m { F[i, 1]; B[i, 1] }
    B[0..m]
  }
}`), shape, {});
    expect(good.diagnostics).toEqual([]);
    expect(validateSchedule(good.schedule!)).toEqual([]);
    expect(proveDeadlockFree(lowered(good.schedule!)).deadlockFree).toBe(true);
    // S[i] and T[i] are the same passes by their names
    const named = evaluateSchedule(declarationFrom(`schedule gpipe_vocab(p, m) {
  requires vocab parallel
  on device d {
    F[0..m]
    for i in 0..m { S[i]; T[i] }
    B[0..m]
  }
}`), shape, {});
    expect(named.diagnostics).toEqual([]);
    const strip = (schedule: ComputeSchedule) => schedule.orders.map((order) => order.map(({ operation, stage, microbatch }) => `${stage}${operation}${microbatch}`));
    expect(strip(named.schedule!)).toEqual(strip(good.schedule!));
    // device 0 runs microbatch 1's T before microbatch 0's S, device 1 the other way round
    const crossed = evaluateSchedule(declarationFrom(`schedule crossed(p, m) {
  requires vocab parallel
  on device d {
    F[0..m]
    if d == 0 { F[1, 1]; B[1, 1]; F[0, 1]; B[0, 1] } else { F[0, 1]; B[0, 1]; F[1, 1]; B[1, 1] }
    B[0..m]
  }
}`), shape, {});
    expect(crossed.diagnostics).toEqual([]);
    expect(validateSchedule(crossed.schedule!).map((problem) => problem.message.code)).toContain('PIPE4024');
    const proof = proveDeadlockFree(lowered(crossed.schedule!));
    expect(proof.deadlockFree).toBe(false);
    expect(proof.stuck.map((stuck) => stuck.instruction.op)).toEqual(['recv_stats', 'recv_stats']);
    expect(proof.stuck[0].waitsFor).toContain('statistics of stage 3 for stage 2, microbatch 1');
  });
});

function lowered(schedule: ComputeSchedule) {
  return { devices: lowerToInstructionStreams(schedule, unitStageInfo(schedule.stages)).devices };
}

describe('a large vocabulary: the shards take the output layer off the last stage', () => {
  // Four transformer stages of unit cost (F = 1, B = 2, one activation
  // unit) and an output layer over a vocabulary worth h = 4 stages (F = h,
  // B = 2h, its logits h activation units). Plain 1F1B runs it on the last
  // stage; 1f1b_vocab splits it into four shards of F = 1, B = 2, 1 unit.
  const p = 4;
  const m = 16;
  const h = 4;
  const stage = (scale: number): StageTimes => ({ forward: scale, backward: 2 * scale, backwardInput: scale, backwardWeight: scale, activation: scale });
  const costsOf = (times: StageTimes[]): CostModel => ({ kind: 'unit', stages: times, sendActivation: times.map(() => 0), sendGradient: times.map(() => 0) });
  const plainCosts = costsOf([stage(1), stage(1), stage(1), stage(1 + h)]);
  const vocabCosts = costsOf([stage(1), stage(1), stage(1), stage(1), ...Array.from({ length: p }, () => stage(h / p))]);
  const plain = vocab('1f1b', p, m, plainCosts);
  const sharded = vocab('1f1b_vocab', p, m, vocabCosts);
  const plainTiming = timeSchedule(plain, { costs: plainCosts });
  const shardedTiming = timeSchedule(sharded, { costs: vocabCosts });
  const imbalance = (values: readonly number[]) => Math.max(...values) / Math.min(...values);

  it('evens out the busy time of the devices and shortens the step', () => {
    // plain: the last device works (1 + h)·3 per microbatch, the others 3
    expect(imbalance(plainTiming.busy)).toBe(1 + h);
    expect(imbalance(shardedTiming.busy)).toBe(1);
    expect(shardedTiming.makespan).toBeLessThan(plainTiming.makespan);
    expect(shardedTiming.bubble).toBeLessThan(plainTiming.bubble);
  });

  it('evens out the activation memory of the last stage', () => {
    const plainPeak = peakActivations(plain, plainCosts.stages.map((times) => times.activation));
    const shardedPeak = peakActivations(sharded, vocabCosts.stages.map((times) => times.activation));
    // 1F1B's last device holds one microbatch of its stage with the logits: 1 + h units
    expect(plainPeak[p - 1]).toBe(1 + h);
    expect(shardedPeak[p - 1]).toBeLessThan(plainPeak[p - 1]);
    expect(imbalance(shardedPeak)).toBeLessThan(imbalance(plainPeak));
  });
});

describe('S and T as priority terms', () => {
  it('rank the shard\'s F and backward on every device, as F[v] and B[v] do', () => {
    const shape: PipelineShape = { devices: 4, microbatches: 8, stages: 8, stageDevice: [0, 1, 2, 3, 0, 1, 2, 3], vocabShards: 4 };
    const byLetters = evaluateSchedule(declarationFrom(`schedule a(p, m) {
  limit activations <= p - d + 3 per device
  priority T > S > B > F
}`), shape, {});
    const byChunks = evaluateSchedule(declarationFrom(`schedule b(p, m) {
  limit activations <= p - d + 3 per device
  priority B[1] > F[1] > B[0] > F[0]
}`), shape, {});
    expect(byLetters.diagnostics).toEqual([]);
    expect(byLetters.schedule!.orders).toEqual(byChunks.schedule!.orders.map((order) => order.map((action) => ({ ...action, span: byLetters.schedule!.orders[0][0].span }))));
  });

  it('are refused on a pipeline without shards (PIPE4544) and with a chunk (PIPE4545)', () => {
    const plain = evaluateSchedule(declarationFrom(`schedule a(p, m) {
  priority T > S > B > F
}`), { devices: 2, microbatches: 2, stages: 2, stageDevice: [0, 1] }, {});
    expect(plain.diagnostics.map((d) => d.code)).toEqual(['PIPE4544', 'PIPE4544']);
    const chunked = evaluateSchedule(declarationFrom(`schedule a(p, m) {
  on device d { F[0..m]; S[0, 1] }
}`), { devices: 2, microbatches: 2, stages: 4, stageDevice: [0, 1, 0, 1], vocabShards: 2 }, {});
    expect(chunked.diagnostics.map((d) => d.code)).toEqual(['PIPE4545']);
  });
});
