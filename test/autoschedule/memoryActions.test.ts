// `auto` with memory actions (compiler/autoschedule/memoryActions.ts): under
// a limit plain orders meet only with a longer makespan, the search adds R /
// O / L, the order validates, its peak stays within the limit and its
// makespan drops; a generous limit gets a plain order; the search's timing
// (R on compute, O / L on the copy stream) is the simulator's.

import { beforeAll, describe, expect, it } from 'vitest';
import { autoScheduleWithReport } from '../../compiler/autoschedule/autoSchedule.ts';
import { autoScheduleWithMemoryActions, stageMemoryOf, timeWithCopyStream, type MemoryActionRequest } from '../../compiler/autoschedule/memoryActions.ts';
import { compileBareSchedule, simulateCompilation, succeeded } from '../../compiler/index.ts';
import { unitCostModel } from '../../compiler/cost/types.ts';
import { memoryProfile } from '../../compiler/schedule/memory.ts';
import type { ComputeSchedule } from '../../compiler/schedule/types.ts';
import { validateSchedule } from '../../compiler/schedule/validate.ts';
import { useBackend } from '../../runtime/backends.ts';
import { readExternModule, verify } from '../../runtime/index.ts';
import { compileInMemory } from '../helpers/compileFiles.ts';
import { deepMlpModel } from '../helpers/smallProgram.ts';
import { compileText } from '../runtime/helpers/compileText.ts';

const P = 4;
const M = 8;
// A stash is 1 unit, a checkpoint a quarter; one copy takes half a forward.
function request(limit: number, recompute = true, offload = true): MemoryActionRequest {
  return {
    shape: { devices: P, stages: P, microbatches: M, stageDevice: [0, 1, 2, 3] },
    costs: { ...unitCostModel(P), hostBandwidth: 2 },
    memoryLimit: Array.from({ length: P }, () => limit),
    checkpoint: Array.from({ length: P }, () => 0.25),
    recompute,
    offload,
  };
}
const plain = (problem: Parameters<typeof autoScheduleWithReport>[0]) => autoScheduleWithReport(problem, { searchEvaluations: 4000 }).schedule;
const count = (schedule: ComputeSchedule, operation: string) => schedule.orders.reduce((n, order) => n + order.filter((a) => a.operation === operation).length, 0);

describe('auto with memory actions, unit costs, p = 4, m = 8', () => {
  it('under 2 stashes per device: a valid order with memory actions, within the limit, faster than any plain order found', () => {
    const problem = request(2);
    const report = autoScheduleWithMemoryActions(problem, plain);
    expect(validateSchedule(report.schedule)).toEqual([]);
    expect(count(report.schedule, 'R') + count(report.schedule, 'O')).toBeGreaterThan(0);
    const peaks = memoryProfile(report.schedule, stageMemoryOf(problem)).device;
    peaks.forEach((peak) => expect(peak).toBeLessThanOrEqual(2));
    expect(report.withoutMemoryActions).toBeDefined();
    expect(report.makespan).toBeLessThan(report.withoutMemoryActions!.makespan);
    expect(report.offloaded.length + report.recomputed.length).toBeGreaterThan(0);
  });

  it('with recompute only: R actions, still within the limit and no slower than without', () => {
    const problem = request(2, true, false);
    const report = autoScheduleWithMemoryActions(problem, plain);
    expect(validateSchedule(report.schedule)).toEqual([]);
    expect(count(report.schedule, 'O')).toBe(0);
    expect(count(report.schedule, 'R')).toBeGreaterThan(0);
    memoryProfile(report.schedule, stageMemoryOf(problem)).device.forEach((peak) => expect(peak).toBeLessThanOrEqual(2));
    expect(report.makespan).toBeLessThan(report.withoutMemoryActions!.makespan);
  });

  it('under a generous limit: no memory actions, the plain search\'s makespan', () => {
    const report = autoScheduleWithMemoryActions(request(8), plain);
    expect(count(report.schedule, 'R') + count(report.schedule, 'O') + count(report.schedule, 'L')).toBe(0);
    expect(report.makespan).toBe(autoScheduleWithReport(request(8), { searchEvaluations: 4000 }).makespan);
  });

  it('each kind of memory action is no slower than none wherever both fit', () => {
    for (const limit of [2, 3, 4]) {
      const report = autoScheduleWithMemoryActions(request(limit), plain);
      const none = report.bestByMode.none!.makespan;
      for (const mode of ['recompute', 'offload', 'both'] as const) {
        const best = report.bestByMode[mode];
        if (best !== undefined) expect(best.makespan).toBeLessThanOrEqual(none);
      }
      // Allowing both is never worse than allowing one.
      for (const one of ['recompute', 'offload'] as const) {
        if (report.bestByMode[one] !== undefined) expect(report.bestByMode.both!.makespan).toBeLessThanOrEqual(report.bestByMode[one]!.makespan);
      }
    }
  });

  it('times orders as the simulator does: R a forward on compute, O / L on the copy stream', () => {
    const compilation = compileBareSchedule({ name: 'auto', devices: P, microbatches: M, memory: 2, recompute: true, offload: true, copyTime: 0.5 });
    expect(compilation.stop).toBeUndefined();
    expect(compilation.memoryPlan).toBeDefined();
    const simulated = simulateCompilation(compilation)!;
    expect(timeWithCopyStream(compilation.schedule!, compilation.costs!)).toBeCloseTo(simulated.result.makespan, 9);
    expect(compilation.memoryPlan!.makespan).toBeCloseTo(simulated.result.makespan, 9);
    // The simulator's sweep over time, copies taking theirs, stays within the limit too.
    if (compilation.memoryPlan!.recomputed === 'none') simulated.result.devices.forEach((device) => expect(device.memory.activations).toBeLessThanOrEqual(2));
  });
});

function program(schedule: string, stages = `stages {
    s0 on gpu[0] = fc_in, hidden[0]
    s1 on gpu[1] = hidden[1], hidden[2]
    s2 on gpu[2] = hidden[3], hidden[4]
    s3 on gpu[3] = hidden[5], out
  }`): string {
  return `${deepMlpModel(6)}
cluster local {
  device gpu[0..4] memory 16GiB speed 100TFLOPS
  device host memory 64GiB
  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us
  link gpu[*] <-> host bandwidth 20GB/s latency 5us
}
pipeline p {
  model mlp
  cluster local
  batch 32 microbatches 8
  ${stages}
  schedule ${schedule}
  optimizer adam(lr: 1e-3)
  data synthetic(examples: 512, seed: 3)
  seed 5
}
`;
}

describe('auto(memory: BYTES) in a program', () => {
  beforeAll(async () => { await useBackend('cpu'); });

  it('adds memory actions under a tight byte limit; the order trains to single-device gradients with the predicted bytes', async () => {
    const limit = 11000;
    const ir = compileText(program(`auto(memory: ${limit}B)`));
    const actions = ir.devices.reduce((n, device) => n + device.instructions.filter((i) => i.op === 'recompute' || i.op === 'offload').length, 0);
    expect(actions).toBeGreaterThan(0);
    for (const device of ir.devices) expect(device.memory.peak).toBeLessThanOrEqual(limit);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });

  // One layer per stage in a V: devices 1-3 hold two 512-byte stashes at once in any plain order, and 9500 bytes leave them 796.
  const vStages = `stages placement v {
    s0 = fc_in
    s1 = hidden[0]
    s2 = hidden[1]
    s3 = hidden[2]
    s4 = hidden[3]
    s5 = hidden[4]
    s6 = hidden[5]
    s7 = out
  }`;
  it('fits a byte limit no plain order meets, with the simulated peak within it, and trains to single-device gradients', async () => {
    const limit = 9500;
    const plainOnly = compileInMemory(program(`auto(memory: ${limit}B, recompute: false, offload: false)`, vStages), '/virtual/test.pipe', { readExternModule });
    expect(plainOnly.diagnostics.map((d) => d.code)).toContain('PIPE5003');
    const compilation = compileInMemory(program(`auto(memory: ${limit}B)`, vStages), '/virtual/test.pipe', { readExternModule });
    expect(succeeded(compilation)).toBe(true);
    const ir = compilation.ir!;
    expect(ir.devices.reduce((n, device) => n + device.instructions.filter((i) => i.op === 'recompute' || i.op === 'offload').length, 0)).toBeGreaterThan(0);
    for (const device of ir.devices) expect(device.memory.peak).toBeLessThanOrEqual(limit);
    const simulated = simulateCompilation(compilation)!;
    simulated.result.devices.forEach((device) => expect(device.memory.peak).toBeLessThanOrEqual(limit));
    expect(compilation.memoryPlan?.makespanWithout).toBeUndefined();
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });

  it('adds none when told not to, or when the limit is generous', () => {
    for (const schedule of ['auto(memory: 11000B, recompute: false, offload: false)', 'auto(memory: 16GiB)']) {
      const ir = compileText(program(schedule));
      expect(ir.devices.every((device) => device.instructions.every((i) => i.op !== 'recompute' && i.op !== 'offload'))).toBe(true);
    }
  });
});

describe('pipec schedule auto --recompute --offload', () => {
  it('reports the makespan with and without memory actions and which microbatches', async () => {
    const { runSchedule } = await import('../../cli/commands/schedule.ts');
    const result = runSchedule('auto', { devices: P, microbatches: M, format: 'text', comms: false, memory: 2, recompute: true, offload: true, copyTime: 0.5 });
    expect(result.exitCode).toBe(0);
    const match = /memory actions: makespan ([\d.]+) \(([\d.]+) without memory actions\)/.exec(result.output!);
    expect(match).not.toBeNull();
    expect(Number(match![1])).toBeLessThan(Number(match![2]));
    // The order's own summary line (the simulator) has the same makespan.
    expect(result.output).toContain(`makespan ${match![1]}, bubble`);
    const [, recomputed, offloaded] = /\n {2}recomputed: (.+)\n {2}offloaded: (.+)/.exec(result.output!)!;
    expect([recomputed, offloaded].some((pairs) => /^stage \d+: microbatch/.test(pairs))).toBe(true);
  });
});
