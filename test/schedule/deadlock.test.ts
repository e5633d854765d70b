import { describe, expect, it } from 'vitest';
import type { Instruction } from '../../compiler/ir/types.ts';
import { lowerToInstructionStreams, unitStageInfo } from '../../compiler/lower/lower.ts';
import { builtinSchedule } from '../../compiler/schedule/builtin.ts';
import { describeDeadlock, proveDeadlockFree } from '../../compiler/schedule/deadlock.ts';

describe('proveDeadlockFree', () => {
  it('finds the circular wait of a hand-broken pair of streams and names each stuck device', () => {
    const device0: Instruction[] = [
      { op: 'load_microbatch', stage: 0, microbatch: 0, slot: 0 },
      { op: 'forward', stage: 0, microbatch: 0, slot: 0 },
      // waits for the gradient before sending the activation that produces it
      { op: 'recv_grad', stage: 0, microbatch: 0, slot: 0, peer: 1, bytes: 4 },
      { op: 'send_act', stage: 0, microbatch: 0, slot: 0, peer: 1, bytes: 4 },
      { op: 'backward', stage: 0, microbatch: 0, slot: 0 },
    ];
    const device1: Instruction[] = [
      { op: 'recv_act', stage: 1, microbatch: 0, slot: 0, peer: 0, bytes: 4 },
      { op: 'forward', stage: 1, microbatch: 0, slot: 0 },
      { op: 'loss', stage: 1, microbatch: 0, slot: 0 },
      { op: 'backward', stage: 1, microbatch: 0, slot: 0 },
      { op: 'send_grad', stage: 1, microbatch: 0, slot: 0, peer: 0, bytes: 4 },
    ];
    const proof = proveDeadlockFree({ devices: [{ rank: 0, instructions: device0 }, { rank: 1, instructions: device1 }] });
    expect(proof.deadlockFree).toBe(false);
    expect(proof.stuck.map((s) => [s.device, s.step, s.waitsFor])).toEqual([
      [0, 2, 'the gradient of stage 0, microbatch 0 from device 1'],
      [1, 0, 'the activation of stage 1, microbatch 0 from device 0'],
    ]);
    expect(proof.completed).toEqual([2, 0]);
    expect(proof.timeline[0]).toEqual(['forward s0 mb0']);
    expect(describeDeadlock(proof)).toContain('device 0 is stuck at instruction 2 (recv_grad of stage 0, microbatch 0) waiting for the gradient of stage 0, microbatch 0 from device 1');
  });

  it('a receive naming the wrong peer never completes, and the proof says who sent it', () => {
    const proof = proveDeadlockFree({
      devices: [
        { rank: 0, instructions: [{ op: 'send_act', stage: 0, microbatch: 0, slot: 0, peer: 1, bytes: 1 }] },
        { rank: 1, instructions: [{ op: 'recv_act', stage: 1, microbatch: 0, slot: 0, peer: 2, bytes: 1 }] },
        { rank: 2, instructions: [] },
      ],
    });
    expect(proof.deadlockFree).toBe(false);
    expect(proof.stuck[0].waitsFor).toBe('the activation of stage 1, microbatch 0 from device 2 (it was sent by device 0 to device 1)');
  });

  it('proves the lowered built-ins and reports no unreceived messages', () => {
    const schedule = builtinSchedule('interleaved_1f1b', { devices: 4, microbatches: 8, stagesPerDevice: 2 }).schedule!;
    const proof = proveDeadlockFree(lowerToInstructionStreams(schedule, unitStageInfo(schedule.stages)));
    expect(proof.deadlockFree).toBe(true);
    expect(proof.unreceived).toEqual([]);
    expect(proof.completed.every((count, device) => count > 0 && device >= 0)).toBe(true);
  });
});
