// The mirrored families (two model copies sharing the ranks): every shape
// their contracts admit validates, lowers deadlock-free to schema-valid IR
// with slots equal to the predicted peaks, and each family's bubble and
// activation memory match the formula of its paper under unit costs
// (F = I = W = 1, B = I + W = 2, an overlapped F&B timed as its parts in turn).

import { describe, expect, it } from 'vitest';
import { validateIr } from '../../compiler/ir/schema.ts';
import { bareScheduleIr } from '../../compiler/lower/bare.ts';
import { builtinSchedule } from '../../compiler/schedule/builtin.ts';
import { proveDeadlockFree } from '../../compiler/schedule/deadlock.ts';
import { peakLiveActivations } from '../../compiler/schedule/memory.ts';
import type { ComputeSchedule } from '../../compiler/schedule/types.ts';
import { timeSchedule } from '../../compiler/schedule/unitTiming.ts';
import { validateSchedule } from '../../compiler/schedule/validate.ts';
import { costModelFromSpec, UNIT_COST_SPEC } from '../../compiler/cost/costSpec.ts';
import type { Instruction } from '../../compiler/ir/types.ts';
import { readFileSync } from 'node:fs';
import { compileText } from '../runtime/helpers/compileText.ts';

const F = 1;
const I = 1;
const W = 1;
const B = I + W;

function build(name: string, devices: number, microbatches: number): ComputeSchedule {
  const result = builtinSchedule(name, { devices, microbatches });
  expect(result.diagnostics.map((d) => d.message)).toEqual([]);
  return result.schedule!;
}

/** Idle time per device: the makespan less the device's own compute under unit costs. */
function idlePerDevice(schedule: ComputeSchedule): number[] {
  const { makespan } = timeSchedule(schedule);
  return schedule.orders.map((order) => makespan - order.reduce((sum, action) => sum + (action.operation === 'F' ? F : action.operation === 'B' ? B : action.operation === 'I' ? I : W), 0));
}

const SHAPES: Array<[number, number]> = [[2, 4], [4, 8], [4, 10], [4, 16], [6, 12], [8, 16], [8, 20]];

describe('mirrored families lower deadlock-free with predicted slots', () => {
  for (const name of ['dualpipe', 'chimera', 'bitpipe']) {
    for (const [p, m] of SHAPES) {
      if ((name === 'chimera' || name === 'bitpipe') && m % p !== 0) continue; // basic units of p microbatches
      it(`${name} p=${p} m=${m}`, () => {
        const schedule = build(name, p, m);
        expect(schedule.copies).toBe(2);
        expect(validateSchedule(schedule)).toEqual([]);
        const ir = bareScheduleIr(schedule);
        expect(proveDeadlockFree(ir).deadlockFree).toBe(true);
        expect(validateIr(ir).errors).toEqual([]);
        expect(ir.devices.map((d) => d.slots)).toEqual(peakLiveActivations(schedule));
      });
    }
  }
});

describe('DualPipe (DeepSeek-V3 report, table 2)', () => {
  for (const [p, m] of SHAPES) {
    it(`p=${p} m=${m}: bubble (p/2-1)(F&B+B-3W), p+1 activations, two stages (2x parameters) per device`, () => {
      const schedule = build('dualpipe', p, m);
      // The report's B is the backward for inputs (our I); F&B a forward and a full backward.
      const fAndB = F + I + W;
      expect(idlePerDevice(schedule)).toEqual(Array.from({ length: p }, () => (p / 2 - 1) * (fAndB + I - 3 * W)));
      expect(peakLiveActivations(schedule)).toEqual(Array.from({ length: p }, () => p + 1));
      const held = Array.from({ length: p }, (_, d) => schedule.stageDevice.filter((rank) => rank === d).length);
      expect(held).toEqual(Array.from({ length: p }, () => 2));
    });
  }

  it('refuses an odd device count, odd microbatches and fewer than 2p microbatches', () => {
    expect(builtinSchedule('dualpipe', { devices: 3, microbatches: 8 }).diagnostics[0].message).toMatch(/even number of devices/);
    expect(builtinSchedule('dualpipe', { devices: 4, microbatches: 9 }).diagnostics[0].message).toMatch(/m must be even/);
    expect(builtinSchedule('dualpipe', { devices: 4, microbatches: 6 }).diagnostics[0].message).toMatch(/at least 2p microbatches/);
  });
});

describe('Chimera (Li & Hoefler, SC21, table 2)', () => {
  for (const p of [2, 4, 6, 8]) {
    it(`p=${p}, a basic unit of m = p: bubble ratio (p-2)/(2m+p-2) with backward = forward, p/2+1 to p activations`, () => {
      const schedule = build('chimera', p, p);
      // the paper's costs: a backward as long as a forward
      const even = costModelFromSpec({ ...UNIT_COST_SPEC, backward: 1 }, schedule.stageDevice);
      const { makespan } = timeSchedule(schedule, { costs: even });
      const busy = 2 * p; // p microbatches' forward and backward over the device's two stages, halved per copy
      expect(makespan - busy).toBe(p - 2);
      expect((makespan - busy) / makespan).toBeCloseTo((p - 2) / (2 * p + p - 2), 12);
      const peaks = peakLiveActivations(schedule);
      // ends hold p/2 + 1, the middle p, growing one per device toward it
      expect(peaks).toEqual(Array.from({ length: p }, (_, d) => p / 2 + 1 + Math.min(d, p - 1 - d)));
    });
  }

  it('concatenates basic units for larger m and refuses m that is not a multiple of p', () => {
    const two = build('chimera', 4, 8);
    expect(peakLiveActivations(two)).toEqual([3, 4, 4, 3]);
    expect(builtinSchedule('chimera', { devices: 4, microbatches: 6 }).diagnostics[0].message).toMatch(/basic units of p microbatches/);
  });
});

describe('BitPipe (two V-shaped copies in opposite directions)', () => {
  it('places four chunks per device, two of each copy, each copy a V (2x parameters)', () => {
    const schedule = build('bitpipe', 4, 8);
    expect(schedule.stageDevice).toEqual([0, 1, 2, 3, 3, 2, 1, 0, 3, 2, 1, 0, 0, 1, 2, 3]);
    expect(Array.from({ length: 4 }, (_, d) => schedule.orders[d].filter((a) => a.operation === 'F').length)).toEqual([16, 16, 16, 16]);
  });

  // The paper's figures for p = 4 (wuhouming/BitPipe, docs/BitPipe_images:
  // BitPipe-v.svg, one basic unit of 4 microbatches, and scale-moreb.svg (b),
  // two units by direct concatenation), read off per device in time order.
  // A label is F or B, the half of the V (0: its first p stages, 1: the
  // rest) and the microbatch: 1, 2 (and 5, 6) go down copy 0, 3, 4 (and 7, 8)
  // up copy 1.
  const PAPER_ONE_UNIT = [
    'F0m1 F0m2 F0m3 F1m3 F0m4 F1m4 F1m1 B1m1 F1m2 B1m2 B1m3 B0m3 B1m4 B0m4 B0m1 B0m2',
    'F0m1 F0m3 F0m2 F0m4 F1m3 F1m1 F1m4 F1m2 B1m1 B1m3 B1m2 B1m4 B0m3 B0m1 B0m4 B0m2',
    'F0m3 F0m1 F0m4 F0m2 F1m1 F1m3 F1m2 F1m4 B1m3 B1m1 B1m4 B1m2 B0m1 B0m3 B0m2 B0m4',
    'F0m3 F0m4 F0m1 F1m1 F0m2 F1m2 F1m3 B1m3 F1m4 B1m4 B1m1 B0m1 B1m2 B0m2 B0m3 B0m4',
  ];
  const PAPER_TWO_UNITS_CONCATENATED = [
    'F0m1 F0m2 F0m3 F1m3 F0m4 F1m4 F1m1 B1m1 F1m2 B1m2 B1m3 B0m3 B1m4 B0m4 B0m1 F0m5 F0m6 B0m2 F0m7 F1m7 F0m8 F1m8 F1m5 B1m5 F1m6 B1m6 B1m7 B0m7 B1m8 B0m8 B0m5 B0m6',
    'F0m1 F0m3 F0m2 F0m4 F1m3 F1m1 F1m4 F1m2 B1m1 B1m3 B1m2 B1m4 B0m3 B0m1 B0m4 B0m2 F0m5 F0m7 F0m6 F0m8 F1m7 F1m5 F1m8 F1m6 B1m5 B1m7 B1m6 B1m8 B0m7 B0m5 B0m8 B0m6',
    'F0m3 F0m1 F0m4 F0m2 F1m1 F1m3 F1m2 F1m4 B1m3 B1m1 B1m4 B1m2 B0m1 B0m3 B0m2 B0m4 F0m7 F0m5 F0m8 F0m6 F1m5 F1m7 F1m6 F1m8 B1m7 B1m5 B1m8 B1m6 B0m5 B0m7 B0m6 B0m8',
    'F0m3 F0m4 F0m1 F1m1 F0m2 F1m2 F1m3 B1m3 F1m4 B1m4 B1m1 B0m1 B1m2 B0m2 B0m3 F0m7 F0m8 B0m4 F0m5 F1m5 F0m6 F1m6 F1m7 B1m7 F1m8 B1m8 B1m5 B0m5 B1m6 B0m6 B0m7 B0m8',
  ];

  /** A figure label on device d as pipec's (operation, global stage, microbatch of its copy). */
  function paperAction(label: string, device: number, p: number): string {
    const [, operation, half, microbatch] = /^([FB])([01])m(\d+)$/.exec(label)!;
    const index = Number(microbatch) - 1;
    const copy = Math.floor(index / 2) % 2;
    const ofCopy = Math.floor(index / 4) * 2 + (index % 2);
    const position = copy === 0 ? (half === '0' ? device : 2 * p - 1 - device) : half === '0' ? p - 1 - device : p + device;
    return `${operation}${copy * 2 * p + position}:${ofCopy}`;
  }

  it("runs the paper's order for p = 4: one basic unit (makespan 28 with B = 2F), and two by direct concatenation", () => {
    for (const [m, figure] of [[4, PAPER_ONE_UNIT], [8, PAPER_TWO_UNITS_CONCATENATED]] as const) {
      const schedule = build('bitpipe', 4, m);
      schedule.orders.forEach((order, device) => {
        expect(order.map((action) => `${action.operation}${action.stage}:${action.microbatch}`)).toEqual(figure[device].split(' ').map((label) => paperAction(label, device, 4)));
      });
    }
    // F = 1 and B = 2 per chunk, as the figure draws them: 16 actions of 3 units per device in 28, the figure's width
    expect(timeSchedule(build('bitpipe', 4, 4)).makespan).toBe(28);
  });

  it('refuses microbatches that fill no whole basic unit, and an odd device count', () => {
    expect(builtinSchedule('bitpipe', { devices: 4, microbatches: 6 }).diagnostics[0].message).toMatch(/basic units of p microbatches/);
    expect(builtinSchedule('bitpipe', { devices: 3, microbatches: 6 }).diagnostics.map((d) => d.message).join('\n')).toMatch(/half of each basic unit/);
  });

  it('keeps every device busy but the fill and drain: less idle than Chimera on the same devices and microbatches', () => {
    for (const [p, m] of [[4, 8], [4, 16], [8, 16]] as const) {
      const bitpipe = idlePerDevice(build('bitpipe', p, m));
      const chimera = idlePerDevice(build('chimera', p, m));
      expect(Math.max(...bitpipe)).toBeLessThan(Math.min(...chimera));
    }
  });
});

describe('the deadlock proof covers the allreduce between the two copies of a stage', () => {
  const ir = compileText(readFileSync('samples/dualpipe.pipe', 'utf8'));

  it('the compiled program: one allreduce per stage with its two holders, proven deadlock-free', () => {
    const groups = ir.devices.flatMap((device) => device.instructions.filter((i) => i.op === 'allreduce').map((i) => i.group));
    expect(groups).toHaveLength(8);
    for (const group of groups) expect(group).toHaveLength(2);
    expect(proveDeadlockFree(ir).deadlockFree).toBe(true);
  });

  it('steps taken in the wrong order on one device (each holder waits for the other) are a deadlock', () => {
    // device 0 holds stage 0 and stage 7 (copy 1 of stage 3): swap its two allreduce + step pairs
    const device = ir.devices[0];
    const tail = device.instructions.slice(-4);
    expect(tail.map((i) => i.op)).toEqual(['allreduce', 'optimizer_step', 'allreduce', 'optimizer_step']);
    const swapped: Instruction[] = [...device.instructions.slice(0, -4), ...tail.slice(2), ...tail.slice(0, 2)];
    const proof = proveDeadlockFree({ devices: ir.devices.map((d) => (d === device ? { ...d, instructions: swapped } : d)) });
    expect(proof.deadlockFree).toBe(false);
    expect(proof.stuck.map((stuck) => stuck.waitsFor)).toEqual(expect.arrayContaining([expect.stringContaining('allreduce of stage')]));
  });
});

describe('the simulator meets the two copies of a stage in one allreduce', () => {
  it('simulates the compiled DualPipe sample to the end, copy 1 marked on its intervals', async () => {
    const { simulateIr } = await import('../../compiler/simulate/simulate.ts');
    const { unitCostModel } = await import('../../compiler/cost/types.ts');
    const ir = compileText(readFileSync('samples/dualpipe.pipe', 'utf8'));
    const result = simulateIr(ir, unitCostModel(ir.stages.length));
    expect(result.stuck).toEqual([]);
    const copies = new Set(result.devices.flatMap((device) => device.timeline.filter((interval) => interval.kind === 'F').map((interval) => interval.copy ?? 0)));
    expect([...copies].sort()).toEqual([0, 1]);
  });
});
