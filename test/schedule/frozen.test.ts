// Forward-only stages (a frozen prefix: PipelineShape.forwardOnlyStages):
// the validator wants F alone for them, the list scheduler plans no
// backward for them and runs their forwards when nothing else is ready, the
// memory model frees their stash after F, and lowering emits no backward,
// no gradient send to them and no optimizer step.

import { describe, expect, it } from 'vitest';
import { unitCostModel } from '../../compiler/cost/types.ts';
import { lowerToInstructionStreams, unitStageInfo } from '../../compiler/lower/lower.ts';
import { listSchedule, type ListSchedulingRules } from '../../compiler/schedule/listScheduler.ts';
import { peakActivationBytes, peakLiveActivations } from '../../compiler/schedule/memory.ts';
import { proveDeadlockFree } from '../../compiler/schedule/deadlock.ts';
import type { ComputeAction, ComputeSchedule, PipelineShape } from '../../compiler/schedule/types.ts';
import { timeSchedule } from '../../compiler/schedule/unitTiming.ts';
import { validateSchedule } from '../../compiler/schedule/validate.ts';

// Three stages on two devices: the encoder (stage 0) and the head's last
// stage (2) share device 0, so device 0 carries twice device 1's work
// unless the encoder is frozen.
const SHAPE: PipelineShape = { devices: 2, stages: 3, microbatches: 8, stageDevice: [0, 1, 0] };
const FROZEN: PipelineShape = { ...SHAPE, forwardOnlyStages: 1 };
const RULES: ListSchedulingRules = {
  splitBackward: true,
  activationLimit: [4, 4],
  priority: [{ operation: 'I' }, { operation: 'F' }, { operation: 'W' }],
};

function scheduled(shape: PipelineShape, rules: ListSchedulingRules = RULES): ComputeSchedule {
  const result = listSchedule(shape, rules, unitCostModel(shape.stages));
  if (!result.ok) throw new Error(result.detail);
  return { ...shape, name: 'rules', splitBackward: rules.splitBackward, orders: result.orders };
}

const labels = (order: readonly ComputeAction[]) => order.map((a) => `${a.stage}${a.operation}${a.microbatch}`);

describe('the list scheduler with a frozen first stage', () => {
  it('plans F alone for the forward-only stage and a valid order for the rest', () => {
    const schedule = scheduled(FROZEN);
    const stage0 = schedule.orders[0].filter((a) => a.stage === 0);
    expect(stage0.map((a) => a.operation)).toEqual(Array(8).fill('F'));
    expect(schedule.orders.flat().filter((a) => a.stage > 0)).toHaveLength(2 * 8 * 3);
    expect(validateSchedule(schedule)).toEqual([]);
  });

  it('under unit costs, the frozen first stage lowers the makespan, and its forwards fill the bubbles', () => {
    const costs = unitCostModel(3);
    const trainable = timeSchedule(scheduled(SHAPE), { costs });
    const frozenSchedule = scheduled(FROZEN);
    const frozen = timeSchedule(frozenSchedule, { costs });
    expect(frozen.makespan).toBeLessThan(trainable.makespan);
    // Both meet device 0's own work, the lower bound: two stages of F, I, W
    // per microbatch trained (48), the encoder's F alone plus the last
    // stage's F, I, W frozen (32).
    expect(trainable.makespan).toBe(8 * (3 + 3));
    expect(frozen.makespan).toBe(8 * (1 + 3));
    // Device 0 is never idle: every gap the head's last stage leaves while
    // it waits for device 1 is filled with encoder forwards.
    expect(frozen.busy[0]).toBe(frozen.makespan);
    // ... so the encoder's forwards are spread among the head's work, not run up front.
    const order = labels(frozenSchedule.orders[0]);
    const firstHeadAction = order.findIndex((label) => label.startsWith('2'));
    expect(order.slice(firstHeadAction).filter((label) => label.startsWith('0F')).length).toBeGreaterThan(0);
    // Running all encoder forwards first instead (same order otherwise) is slower.
    const upFront = {
      ...frozenSchedule,
      orders: frozenSchedule.orders.map((actions, d) => (d === 0 ? [...actions.filter((a) => a.stage === 0), ...actions.filter((a) => a.stage !== 0)] : actions)),
    };
    expect(validateSchedule(upFront)).toEqual([]);
    expect(timeSchedule(upFront, { costs }).makespan).toBeGreaterThan(frozen.makespan);
  });

  it('a forward-only forward counts against no activation limit', () => {
    // A limit of one activation per device: the trainable stages take turns,
    // while the encoder still runs as far ahead as its device is free.
    const tight = scheduled(FROZEN, { ...RULES, activationLimit: [1, 1] });
    expect(validateSchedule(tight)).toEqual([]);
    const order = labels(tight.orders[0]);
    expect(order.indexOf('0F1')).toBeLessThan(order.indexOf('2W0'));
  });

  it('also plans a fused backward and a forward-only prefix of two stages', () => {
    const shape: PipelineShape = { devices: 4, stages: 4, microbatches: 6, stageDevice: [0, 1, 2, 3], forwardOnlyStages: 2 };
    const schedule = scheduled(shape, { splitBackward: false, activationLimit: [4, 3, 2, 1], priority: [{ operation: 'B' }, { operation: 'F' }] });
    expect(validateSchedule(schedule)).toEqual([]);
    expect(schedule.orders[0].every((a) => a.operation === 'F')).toBe(true);
    expect(schedule.orders[1].every((a) => a.operation === 'F')).toBe(true);
    expect(schedule.orders[2].filter((a) => a.operation === 'B')).toHaveLength(6);
  });
});

describe('validating and lowering orders with a forward-only stage', () => {
  it('a backward of a forward-only stage is PIPE4640, once per stage', () => {
    const schedule = scheduled(SHAPE);
    const problems = validateSchedule({ ...schedule, forwardOnlyStages: 1 });
    expect(problems.map((p) => p.message.code)).toEqual(['PIPE4640']);
    expect(problems[0].args.stage).toBe(0);
    expect(problems[0].action?.operation).toBe('I');
  });

  it('a forward-only stage needs no backward to be complete', () => {
    const schedule = scheduled(FROZEN);
    const withoutForward = { ...schedule, orders: schedule.orders.map((actions) => actions.filter((a) => !(a.stage === 0 && a.microbatch === 3))) };
    expect(validateSchedule(withoutForward).map((p) => p.message.code)).toEqual(['PIPE4020']);
  });

  it('the stash of a forward-only stage lives only while its F runs', () => {
    const schedule = scheduled(FROZEN);
    // The encoder keeps 10 bytes a microbatch: kept until a backward, 8 of them would be 80.
    expect(peakActivationBytes(schedule, [{ activationBytes: 10 }, { activationBytes: 0 }, { activationBytes: 0 }])).toEqual([10, 0]);
    // Its slot is held only during its F, on top of stage 2's.
    const encoderFree = { ...schedule, orders: schedule.orders.map((actions) => actions.filter((a) => a.stage !== 0)) };
    const stage2Slots = peakLiveActivations({ ...encoderFree, forwardOnlyStages: 0 } as ComputeSchedule)[0];
    expect(peakLiveActivations(schedule)[0]).toBeLessThanOrEqual(stage2Slots + 1);
  });

  it('lowers F alone (load, forward, send, free), no gradient back, no optimizer step, deadlock-free', () => {
    const schedule = scheduled(FROZEN);
    const info = unitStageInfo(3).map((stage, index) => (index === 0 ? { ...stage, frozen: true } : stage));
    const lowered = lowerToInstructionStreams(schedule, info);
    const stage0 = lowered.devices[0].instructions.filter((i) => i.stage === 0);
    expect(new Set(stage0.map((i) => i.op))).toEqual(new Set(['load_microbatch', 'forward', 'send_act', 'free']));
    expect(lowered.devices[1].instructions.some((i) => i.op === 'send_grad')).toBe(false);
    expect(lowered.devices[0].instructions.filter((i) => i.op === 'optimizer_step').map((i) => i.stage)).toEqual([2]);
    const devices = lowered.devices.map((device) => ({ index: device.rank, rank: device.rank, replica: 0, instructions: device.instructions }));
    expect(proveDeadlockFree({ devices } as never).deadlockFree).toBe(true);
  });
});
