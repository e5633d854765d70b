import { describe, expect, it } from 'vitest';
import { readCostsFile } from '../../compiler/cost/costModel.ts';
import { profile } from '../../runtime/index.ts';
import { costsFromTraces } from '../../runtime/profileInSitu.ts';
import type { TraceEvent } from '../../runtime/trace.ts';
import { handMlpIr } from './helpers/handIr.ts';

/** The costs file `pipec profile` writes, read back through the schema. */
function roundTrip(costs: Awaited<ReturnType<typeof profile>>['costs'], stages: number, mode: string) {
  const text = JSON.stringify({ version: 1, ...costs, units: 'seconds', measured: { pipeline: 'p', backend: 'cpu', microbatchSize: 4, repeats: 1, date: 'now', mode } });
  return readCostsFile(text, 'costs.json', { devices: stages, stages, microbatches: 4, stageDevice: Array.from({ length: stages }, (_, s) => s) });
}

describe('profile in situ', () => {
  it('runs a 2-stage pipeline on workers and reads F, B, transfers and optimizer steps off its trace', async () => {
    const ir = handMlpIr('1f1b', 2, 4);
    const measured = await profile(ir, { repeats: 1 });
    expect(measured.mode).toBe('workers');
    const { costs } = measured;
    expect(costs.stages).toHaveLength(2);
    for (const stage of costs.stages) {
      expect(stage.forward).toBeGreaterThan(0);
      expect(stage.backward).toBeGreaterThan(0);
      expect(stage.backwardInput + stage.backwardWeight).toBeCloseTo(stage.backward, 9);
    }
    // A message costs its sender the send's overhead, then the link time (which may round to 0 when the message left early in the send).
    expect(costs.sendActivationOverhead?.[0]).toBeGreaterThan(0);
    expect(costs.sendGradientOverhead?.[1]).toBeGreaterThan(0);
    expect(costs.sendActivation[0]).toBeGreaterThanOrEqual(0);
    expect(costs.sendGradient[1]).toBeGreaterThanOrEqual(0);
    expect([costs.sendActivation[1], costs.sendGradient[0], costs.sendActivationOverhead?.[1], costs.sendGradientOverhead?.[0]]).toEqual([0, 0, 0, 0]);
    expect(costs.optimizerStep).toHaveLength(2);
    const read = roundTrip(costs, 2, measured.mode);
    expect(read.diagnostics).toEqual([]);
    expect(read.costs?.sendGradientOverhead).toEqual(costs.sendGradientOverhead);
    expect(read.costs?.optimizerStep).toEqual(costs.optimizerStep);
  });

  it('measures I and W apart under a split schedule, in process too; --isolated still works', async () => {
    const ir = handMlpIr('1f1b_split', 2, 4);
    const inProcess = await profile(ir, { repeats: 1, mode: 'in-process' });
    expect(inProcess.mode).toBe('in-process');
    for (const stage of inProcess.costs.stages) {
      expect(stage.backwardInput).toBeGreaterThan(0);
      expect(stage.backwardWeight).toBeGreaterThan(0);
    }
    expect(roundTrip(inProcess.costs, 2, inProcess.mode).diagnostics).toEqual([]);
    const isolated = await profile(ir, { repeats: 1, isolated: true });
    expect(isolated.mode).toBe('isolated');
    expect(isolated.costs.stages.every((s) => s.forward > 0 && s.backwardWeight > 0)).toBe(true);
    expect(roundTrip(isolated.costs, 2, isolated.mode).diagnostics).toEqual([]);
  });

  it('charges a sender the gap around its send less its waits, and times a transfer only when the receiver already waited', () => {
    const ir = handMlpIr('1f1b', 2, 1);
    const event = (tid: number, op: string, ts: number, dur: number, args: Record<string, unknown> = {}): TraceEvent => ({
      name: op, cat: ['forward', 'loss', 'backward'].includes(op) ? 'compute' : op === 'wait' ? 'wait' : 'other', ph: 'X', ts, dur, pid: 0, tid,
      args: op === 'wait' ? {} : { op, stage: tid, microbatch: 0, ...args },
    });
    const trace = [
      event(0, 'forward', 0, 100),
      event(0, 'send_act', 100, 10, { tag: 'act:0:0', peer: 1, waited: 0 }),
      // Device 1 waited from 0 (before the send) to 150, then copied for 5 µs.
      event(1, 'wait', 0, 150),
      event(1, 'recv_act', 150, 5, { tag: 'act:0:0', peer: 0, waited: 150 }),
      event(1, 'forward', 155, 80),
      event(1, 'loss', 235, 20),
      event(1, 'backward', 255, 200),
      event(1, 'send_grad', 455, 30, { tag: 'grad:1:0', peer: 0, waited: 0 }),
      event(1, 'optimizer_step', 485, 9),
      // Device 0 started waiting after the send had begun: not a clean sample, the recv's own time is used.
      event(0, 'wait', 500, 100),
      event(0, 'recv_grad', 600, 2, { tag: 'grad:1:0', peer: 1, waited: 100 }),
      event(0, 'backward', 620, 150),
      event(0, 'optimizer_step', 770, 7),
    ];
    const costs = costsFromTraces(ir, [trace]);
    expect(costs.stages[0].forward).toBeCloseTo(100e-6, 12);
    expect(costs.stages[1].forward).toBeCloseTo(100e-6, 12); // F + loss
    expect(costs.stages[1].backward).toBeCloseTo(200e-6, 12);
    // Device 0: 100 → 620 between its computes, 100 of it waiting: 420 µs of overhead; the message then took 155 - 100 - 420 < 0 → 0.
    expect(costs.sendActivationOverhead?.[0]).toBeCloseTo(420e-6, 12);
    expect(costs.sendActivation[0]).toBe(0);
    // Device 1 computes nothing after its send: the send's own 30 µs.
    expect(costs.sendGradientOverhead?.[1]).toBeCloseTo(30e-6, 12);
    expect(costs.sendGradient[1]).toBeCloseTo(2e-6, 12);
    expect(costs.optimizerStep).toEqual([7e-6, 9e-6]);
  });
});
