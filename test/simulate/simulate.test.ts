import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { unitCostModel, type CostModel } from '../../compiler/cost/types.ts';
import type { Instruction } from '../../compiler/ir/types.ts';
import { lowerToInstructionStreams, unitStageInfo } from '../../compiler/lower/lower.ts';
import { builtinSchedule } from '../../compiler/schedule/builtin.ts';
import { memoryProfile } from '../../compiler/schedule/memory.ts';
import { simulate } from '../../compiler/simulate/simulate.ts';
import { importTorchCsv } from '../../compiler/torch/csv.ts';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/torch-orders');

/** "GPipe 33, Interleaved1F1B 57 (8 stages), ..." from the README's unit-cost sentence. */
function readmeMakespans(): Map<string, number> {
  const readme = readFileSync(path.join(fixtures, 'README.md'), 'utf8').replace(/\s+/g, ' ');
  const sentence = /makespans: (.*?)\./.exec(readme);
  if (!sentence) throw new Error('README no longer lists makespans');
  const table = new Map<string, number>();
  for (const match of sentence[1].matchAll(/([A-Za-z0-9]+) (\d+)/g)) table.set(match[1], Number(match[2]));
  return table;
}

describe('simulate on PyTorch\'s own orders (unit costs)', () => {
  const expected = readmeMakespans();
  const files = readdirSync(fixtures).filter((file) => file.endsWith('.csv'));

  it('has a makespan in the README for every valid order', () => {
    expect([...expected.keys()].sort()).toEqual(['DualPipeV', 'GPipe', 'Interleaved1F1B', 'InterleavedZeroBubble', 'LoopedBFS', 'ZBVZeroBubble']);
  });

  for (const [name, makespan] of expected) {
    it(`${name} takes ${makespan}`, () => {
      const file = files.find((f) => f.startsWith(`Schedule${name}_`));
      expect(file).toBeDefined();
      const imported = importTorchCsv(readFileSync(path.join(fixtures, file!), 'utf8'), file!);
      expect(imported.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const schedule = imported.schedule!;
      const streams = lowerToInstructionStreams(schedule, unitStageInfo(schedule.stages));
      const result = simulate(streams, unitCostModel(schedule.stages));
      expect(result.stuck).toEqual([]);
      expect(result.makespan).toBe(makespan);
      // The critical path covers the makespan exactly (no communication time under unit costs).
      const critical = result.criticalPath;
      expect(critical[critical.length - 1].end).toBe(makespan);
      expect(critical.reduce((total, step) => total + step.end - step.start, 0)).toBe(makespan);
    });
  }
});

function costsWith(stages: number, overrides: Partial<CostModel>): CostModel {
  return { ...unitCostModel(stages), ...overrides };
}

describe('simulate semantics', () => {
  const built = builtinSchedule('1f1b', { devices: 2, microbatches: 2, stagesPerDevice: 1 });
  const schedule = built.schedule!;
  const streams = lowerToInstructionStreams(schedule, unitStageInfo(2));

  it('charges link time between devices and keeps sends asynchronous', () => {
    const free = simulate(streams, unitCostModel(2));
    const linked = simulate(streams, costsWith(2, { sendActivation: [0.5, 0], sendGradient: [0, 0.5] }));
    // Device 0: F0 F1 . . B0 . B1; device 1: . F0 B0 F1 B1 — 9 steps. The
    // critical path crosses twice (F0 down, B1's gradient up), 0.5 each.
    expect(free.makespan).toBe(9);
    expect(linked.makespan).toBe(10);
    expect(linked.transfers).toHaveLength(4);
    expect(linked.transfers.every((t) => t.arrived - t.sent === 0.5)).toBe(true);
    expect(linked.criticalPath.filter((step) => step.kind === 'transfer')).toHaveLength(2);
  });

  it('reports busy, idle and bubble per device', () => {
    const result = simulate(streams, unitCostModel(2));
    for (const device of result.devices) {
      expect(device.busy).toBe(6);
      expect(device.idle).toBe(3);
      expect(device.bubble).toBeCloseTo(1 / 3, 12);
    }
    expect(result.bubble).toBeCloseTo(1 / 3, 12);
  });

  it('keeps an activation live from its F until its W when backward is split', () => {
    const zb = builtinSchedule('zb_h1', { devices: 2, microbatches: 4, stagesPerDevice: 1 }).schedule!;
    const lowered = lowerToInstructionStreams(zb, unitStageInfo(2));
    const result = simulate(lowered, costsWith(2, { stages: unitCostModel(2).stages.map((s) => ({ ...s, activation: 10 })) }));
    // Device 0 runs F0 F1 before the first I comes back and frees nothing until W0: two live at once.
    expect(result.devices[0].memory.activations).toBe(20);
    expect(result.devices.map((d) => d.timeline.filter((i) => i.kind === 'W').length)).toEqual([4, 4]);
  });

  it('counts a whole-stage recompute as the memory check does: the input after F, the full stash again from the recompute', () => {
    for (const name of ['gpipe', '1f1b', 'zb_h1']) {
      const schedule = builtinSchedule(name, { devices: 2, microbatches: 4, stagesPerDevice: 1 }).schedule!;
      const info = unitStageInfo(2).map((stage, index) => ({ ...stage, recompute: index === 0, activationBytes: 10, inputBytes: 2 }));
      const lowered = lowerToInstructionStreams(schedule, info);
      const result = simulate(lowered, costsWith(2, { stages: unitCostModel(2).stages.map((s) => ({ ...s, activation: 10 })) }));
      const predicted = memoryProfile(schedule, info.map((stage) => ({ activationBytes: 10, inputBytes: 2, recompute: stage.recompute }))).device;
      expect(result.devices.map((d) => d.memory.activations), name).toEqual(predicted);
    }
    // GPipe's first device: four checkpoints of 2, then one recomputed stash of 10 beside three checkpoints
    const gpipe = builtinSchedule('gpipe', { devices: 2, microbatches: 4, stagesPerDevice: 1 }).schedule!;
    const info = unitStageInfo(2).map((stage, index) => ({ ...stage, recompute: index === 0, activationBytes: 10, inputBytes: 2 }));
    expect(simulate(lowerToInstructionStreams(gpipe, info), costsWith(2, { stages: unitCostModel(2).stages.map((s) => ({ ...s, activation: 10 })) })).devices[0].memory.activations).toBe(16);
  });

  it('adds static memory to the activation peak', () => {
    const result = simulate(streams, unitCostModel(2), {
      staticMemory: [{ weights: 100, gradients: 100, optimizerState: 200 }, { weights: 1, gradients: 1, optimizerState: 2 }],
    });
    expect(result.devices[0].memory).toEqual({ weights: 100, gradients: 100, optimizerState: 200, activations: 2, peak: 402 });
    expect(result.devices[1].memory.peak).toBe(5);
  });

  it('times offload and reload by host bandwidth on the copy stream, overlapping compute, and takes the activation off the device meanwhile', () => {
    const instructions: Instruction[] = [
      { op: 'load_microbatch', stage: 0, microbatch: 0, slot: 0 },
      { op: 'forward', stage: 0, microbatch: 0, slot: 0 },
      { op: 'offload', stage: 0, microbatch: 0, slot: 0, bytes: 50 },
      { op: 'load_microbatch', stage: 0, microbatch: 1, slot: 1 },
      { op: 'forward', stage: 0, microbatch: 1, slot: 1 },
      { op: 'loss', stage: 0, microbatch: 1, slot: 1 },
      { op: 'backward', stage: 0, microbatch: 1, slot: 1 },
      { op: 'free', stage: 0, microbatch: 1, slot: 1 },
      { op: 'reload', stage: 0, microbatch: 0, slot: 0, bytes: 50 },
      { op: 'recompute', stage: 0, microbatch: 0, slot: 0 },
      { op: 'backward', stage: 0, microbatch: 0, slot: 0 },
      { op: 'free', stage: 0, microbatch: 0, slot: 0 },
    ];
    const result = simulate([{ rank: 0, instructions }], costsWith(1, { hostBandwidth: 100 }));
    // Compute: F 0–1, F 1–2, B 2–4, then the recompute waits for the reload
    // (copy stream 4–4.5): recompute 4.5–5.5, B 5.5–7.5. The offload (copy
    // stream 1–1.5) runs beside the second F, so it costs no compute time,
    // and microbatch 0's stash leaves the device only when it ends at 1.5:
    // both stashes are on the device from 1 to 1.5.
    expect(result.makespan).toBe(7.5);
    expect(result.devices[0].memory.activations).toBe(2);
    expect(result.devices[0].busy).toBe(7);
    const timeline = result.devices[0].timeline;
    expect(timeline.map((i) => i.kind)).toEqual(['F', 'offload', 'F', 'B', 'reload', 'recompute', 'B']);
    expect(timeline.filter((i) => i.stream === 'copy').map((i) => [i.kind, i.start, i.end])).toEqual([['offload', 1, 1.5], ['reload', 4, 4.5]]);
  });

  it('meets all members of an allreduce before any starts it', () => {
    const device = (index: number, work: number): { index: number; rank: number; replica: number; instructions: Instruction[] } => ({
      index,
      rank: 0,
      replica: index,
      instructions: [
        ...Array.from({ length: work }, (_, i): Instruction => ({ op: 'forward', stage: 0, microbatch: i, slot: 0 })),
        { op: 'allreduce', stage: 0, group: [0, 1], bytes: 10 },
        { op: 'optimizer_step', stage: 0 },
      ],
    });
    const result = simulate([device(0, 1), device(1, 3)], costsWith(1, { allreduce: [2], optimizerStep: [0.5] }));
    expect(result.devices.map((d) => d.finish)).toEqual([5.5, 5.5]);
    expect(result.devices[0].timeline.find((i) => i.kind === 'allreduce')).toMatchObject({ start: 3, end: 5 });
  });

  it('names the receive that never gets its message', () => {
    const result = simulate([{ rank: 0, instructions: [{ op: 'recv_grad', stage: 0, microbatch: 0, slot: 0, peer: 1 }] }, { rank: 1, instructions: [] }], unitCostModel(2));
    expect(result.stuck).toEqual([
      { device: 0, index: 0, instruction: { op: 'recv_grad', stage: 0, microbatch: 0, slot: 0, peer: 1 }, waitsFor: 'the gradient of stage 1, microbatch 0' },
    ]);
  });
});

describe('simulate at scale', () => {
  // Its speed is a benchmark (bench/simulate.ts); this checks the result.
  it('simulates interleaved 1F1B with p=16, m=256, v=2 (about 115,000 instructions)', () => {
    const schedule = builtinSchedule('interleaved_1f1b', { devices: 16, microbatches: 256, stagesPerDevice: 2 }).schedule!;
    const streams = lowerToInstructionStreams(schedule, unitStageInfo(schedule.stages));
    const result = simulate(streams, unitCostModel(schedule.stages));
    expect(result.stuck).toEqual([]);
    // Every device does m·v·(F + B) = 256·2·3 of work; the rest is fill and drain.
    expect(result.devices.every((device) => device.busy === 256 * 2 * 3)).toBe(true);
  });
});
