// Every built-in schedule at several shapes: it evaluates, validates, lowers,
// is proven deadlock-free, and its IR validates against the JSON Schema; and
// the analytic properties each family is known for hold.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from '../../grammar/index.ts';
import { validateIr } from '../../compiler/ir/schema.ts';
import { bareScheduleIr } from '../../compiler/lower/bare.ts';
import { builtinSchedule, builtinScheduleNames } from '../../compiler/schedule/builtin.ts';
import { proveDeadlockFree } from '../../compiler/schedule/deadlock.ts';
import { peakActivations, peakLiveActivations } from '../../compiler/schedule/memory.ts';
import type { ComputeSchedule } from '../../compiler/schedule/types.ts';
import { timeSchedule } from '../../compiler/schedule/unitTiming.ts';
import { validateSchedule } from '../../compiler/schedule/validate.ts';
import { standardLibrary } from '../../compiler/stdlib/index.ts';

/** Families on a mirrored placement; they need even p and m and are swept in mirrored.test.ts. */
const MIRRORED_FAMILIES = ['dualpipe', 'chimera', 'bitpipe'] as const;
/** Families with a vocabulary shard stage per device after the model's (`requires vocab parallel`). */
const VOCAB_FAMILIES = ['1f1b_vocab', 'v_half_vocab'] as const;
const FAMILIES = ['gpipe', '1f1b', 'interleaved_1f1b', 'looped_bfs', 'interleaved_zb', 'zb_h1', 'zb_h2', 'zb_v', 'v_half', 'v_min', 'dualpipe_v', '1f1b_v', 'hanayo', ...MIRRORED_FAMILIES, ...VOCAB_FAMILIES] as const;
const MULTI_CHUNK = new Set(['interleaved_1f1b', 'looped_bfs', 'interleaved_zb', 'zb_v', 'v_half', 'v_min', 'dualpipe_v', '1f1b_v', 'hanayo', 'v_half_vocab']);
/** Chunks per device the shape sweep uses for the multi-chunk families (2 where not listed). */
const SWEEP_CHUNKS: Readonly<Record<string, number>> = { interleaved_1f1b: 3, looped_bfs: 3, hanayo: 4 };

function build(name: string, devices: number, microbatches: number, stagesPerDevice = 1): ComputeSchedule {
  const result = builtinSchedule(name, { devices, microbatches, stagesPerDevice });
  expect(result.diagnostics.map((d) => d.message)).toEqual([]);
  return result.schedule!;
}

describe('standard library', () => {
  it('the embedded text is schedules.pipe (regenerate with `npx node compiler/stdlib/generate.ts`)', () => {
    const file = readFileSync(new URL('../../compiler/stdlib/schedules.pipe', import.meta.url), 'utf8');
    expect(standardLibrary('std:schedules')).toBe(file);
    expect(standardLibrary('std:nothing')).toBeUndefined();
  });

  it('parses without diagnostics and defines every family', () => {
    const parsed = parse({ name: 'std:schedules', text: standardLibrary('std:schedules')! });
    expect(parsed.diagnostics).toEqual([]);
    expect(builtinScheduleNames().sort()).toEqual([...FAMILIES].sort());
  });

  it('accepts hyphens and underscores alike, and names the built-ins for an unknown one', () => {
    expect(builtinSchedule('zb-h1', { devices: 4, microbatches: 8, stagesPerDevice: 1 }).schedule?.name).toBe('zb_h1');
    const unknown = builtinSchedule('zb-h9', { devices: 4, microbatches: 8, stagesPerDevice: 1 });
    expect(unknown.schedule).toBeUndefined();
    expect(unknown.diagnostics[0].code).toBe('PIPE4016');
    expect(unknown.diagnostics[0].message).toContain('zb_v');
  });
});

describe('every built-in validates, lowers, is deadlock-free, and its IR matches the schema', () => {
  const shapes: Array<[number, number]> = [[2, 4], [4, 8], [4, 13], [8, 16], [3, 7]];
  for (const name of FAMILIES.filter((family) => !(MIRRORED_FAMILIES as readonly string[]).includes(family))) {
    for (const [p, m] of shapes) {
      const v = MULTI_CHUNK.has(name) ? SWEEP_CHUNKS[name] ?? 2 : 1;
      if (name === 'dualpipe_v' && m < 2 * p) continue; // needs m >= 2p (tested below)
      it(`${name} p=${p} m=${m} v=${v}`, () => {
        const schedule = build(name, p, m, v);
        expect(validateSchedule(schedule)).toEqual([]);
        const ir = bareScheduleIr(schedule);
        const proof = proveDeadlockFree(ir);
        expect(proof.stuck).toEqual([]);
        expect(proof.deadlockFree).toBe(true);
        expect(proof.unreceived).toEqual([]);
        const validation = validateIr(ir);
        expect(validation.errors).toEqual([]);
        // slots per device = the predicted peak of live activations
        expect(ir.devices.map((d) => d.slots)).toEqual(peakLiveActivations(schedule));
      });
    }
  }

  it('interleaved_1f1b works for m that is not a multiple of p, and for m < p', () => {
    for (const [p, m, v] of [[4, 10, 2], [4, 3, 2], [3, 7, 3], [5, 12, 4]] as const) {
      const schedule = build('interleaved_1f1b', p, m, v);
      expect(validateSchedule(schedule)).toEqual([]);
      expect(proveDeadlockFree(bareScheduleIr(schedule)).deadlockFree).toBe(true);
    }
  });

  it('dualpipe_v with too few microbatches is a diagnostic, not a crash', () => {
    const result = builtinSchedule('dualpipe_v', { devices: 4, microbatches: 4, stagesPerDevice: 2 });
    expect(result.schedule).toBeUndefined();
    expect(result.diagnostics[0].span.file).toBe('std:schedules');
  });
});

describe('analytic properties under unit costs', () => {
  it('GPipe and 1F1B bubble = (p-1)/(m+p-1)', () => {
    for (const [p, m] of [[4, 8], [8, 32], [3, 5]]) {
      for (const name of ['gpipe', '1f1b']) {
        const timing = timeSchedule(build(name, p, m));
        expect(timing.bubble).toBeCloseTo((p - 1) / (m + p - 1), 10);
        expect(timing.makespan).toBe(3 * (m + p - 1));
      }
    }
  });

  it('1F1B device r holds at most p-r activations; GPipe holds m', () => {
    const p = 8;
    const peaks = peakLiveActivations(build('1f1b', p, 32));
    peaks.forEach((peak, r) => expect(peak).toBeLessThanOrEqual(p - r));
    expect(peaks[0]).toBe(p);
    expect(peakLiveActivations(build('gpipe', p, 32))).toEqual(new Array(p).fill(32));
  });

  it('ZB-H1 holds at most p and beats 1F1B\'s bubble', () => {
    for (const [p, m] of [[4, 8], [8, 32]]) {
      const zb = build('zb_h1', p, m);
      peakLiveActivations(zb).forEach((peak) => expect(peak).toBeLessThanOrEqual(p));
      expect(timeSchedule(zb).bubble).toBeLessThan(timeSchedule(build('1f1b', p, m)).bubble);
    }
  });

  it('ZB-H2 and ZB-V approach zero bubble as m grows (only the unavoidable ramp is left)', () => {
    for (const name of ['zb_h2', 'zb_v']) {
      const v = name === 'zb_v' ? 2 : 1;
      const bubbles = [8, 32, 128].map((m) => timeSchedule(build(name, 4, m, v)).bubble);
      expect(bubbles[1]).toBeLessThan(bubbles[0]);
      expect(bubbles[2]).toBeLessThan(bubbles[1]);
      expect(bubbles[2]).toBeLessThan(0.01);
      // far below 1F1B's (p-1)/(m+p-1) at the same m
      expect(bubbles[1]).toBeLessThan((3 / 35) / 2);
    }
  });

  it('ZB-V holds the same activation memory as 1F1B', () => {
    const p = 8;
    // Stages of a V hold half of a 1F1B stage's activations each.
    const zb = peakActivations(build('zb_v', p, 32, 2), new Array(2 * p).fill(0.5));
    const oneF = peakActivations(build('1f1b', p, 32), new Array(p).fill(1));
    expect(Math.max(...zb)).toBeLessThanOrEqual(Math.max(...oneF));
  });

  // V-Half's and V-Min's memory and bubbles against the paper: test/schedule/vShapes.test.ts.

  // Hanayo's bubble with fill and drain only, the paper's (P-1)/(2WN+P-1):
  // under unit costs a device's work is 3·v·m (v = 2W chunks of F = 1,
  // B = 2) and the fill and drain add 3(p-1). The paper's own figure could
  // not be consulted here; this is the formula reconstructed from the same
  // fill-and-drain argument as interleaved 1F1B's, with v = 2W.
  it('Hanayo (p = 4) stays within 10% of the fill-and-drain makespan of its paper\'s bubble formula, and below 1F1B\'s bubble', () => {
    const p = 4;
    for (const waves of [1, 2]) {
      const v = 2 * waves;
      for (const m of [2 * p, 4 * p]) {
        const hanayo = build('hanayo', p, m, v);
        const timing = timeSchedule(hanayo);
        const fillAndDrain = 3 * v * m + 3 * (p - 1);
        expect((3 * v * m) / fillAndDrain).toBeCloseTo(1 - (p - 1) / (v * m + p - 1), 12);
        expect(timing.makespan).toBeGreaterThanOrEqual(fillAndDrain);
        expect(timing.makespan).toBeLessThanOrEqual(1.1 * fillAndDrain);
        expect(timing.bubble).toBeLessThan((p - 1) / (m + p - 1));
      }
    }
  });

  it('Hanayo holds at most one microbatch more than 1F1B: (p+1)·v chunk activations per device', () => {
    for (const [p, v, m] of [[4, 4, 16], [8, 6, 32], [2, 2, 8]] as const) {
      const peaks = peakLiveActivations(build('hanayo', p, m, v));
      peaks.forEach((peak) => expect(peak).toBeLessThanOrEqual((p + 1) * v));
      expect(Math.max(...peaks)).toBeGreaterThan(p * v - v); // it does use the room it has
    }
  });

  it('Hanayo reads its waves from the stage count, and refuses an odd one', () => {
    expect(build('hanayo', 4, 8, 6).stageDevice).toEqual([0, 1, 2, 3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]);
    const odd = builtinSchedule('hanayo', { devices: 4, microbatches: 8, stagesPerDevice: 3 });
    expect(odd.schedule).toBeUndefined();
    expect(odd.diagnostics.map((d) => d.message).join('\n')).toContain('2·waves stages per device');
  });

  it('1F1B-V repeats F f B b on every device: one period per microbatch, no bubble in the steady state', () => {
    for (const p of [2, 3, 4, 5, 8]) {
      const m = 4 * p;
      const schedule = build('1f1b_v', p, m, 2);
      schedule.orders.forEach((order, device) => {
        const kinds = order.map((action) => `${action.operation}${action.stage === device ? 0 : 1}`);
        // the longest run where every action repeats the kind 4 actions back, its microbatch one later
        let run = 0;
        let longest = 0;
        for (let k = 4; k < order.length; k++) {
          run = kinds[k] === kinds[k - 4] && order[k].microbatch === order[k - 4].microbatch + 1 ? run + 1 : 0;
          longest = Math.max(longest, run);
        }
        expect(longest).toBeGreaterThanOrEqual(4 * (m - 2 * p));
      });
      // each microbatch more adds one period of 6 (F, f, and two 2-unit backwards)
      expect(timeSchedule(build('1f1b_v', p, m + 1, 2)).makespan - timeSchedule(schedule).makespan).toBe(6);
    }
  });

  it('1F1B-V holds at most 1F1B\'s activation bytes, fewer for p >= 4 (measured 3/4 to 5/6 of them)', () => {
    for (const p of [2, 3, 4, 5, 6, 8]) {
      const m = 4 * p;
      // chunks of a V hold half of a 1F1B stage's activations each
      const v = Math.max(...peakActivations(build('1f1b_v', p, m, 2), new Array(2 * p).fill(0.5)));
      const oneF = Math.max(...peakActivations(build('1f1b', p, m), new Array(p).fill(1)));
      expect(v).toBeLessThanOrEqual(oneF);
      if (p >= 4) expect(v).toBeLessThan(oneF);
    }
  });

  it('1F1B-V at p = 4, m = 8: makespan 66 under unit costs, the same bubble as 1F1B ((p-1)/(m+p-1), in chunk units)', () => {
    const timing = timeSchedule(build('1f1b_v', 4, 8, 2));
    expect(timing.makespan).toBe(66);
    expect(timing.bubble).toBeCloseTo(3 / 11, 10);
  });
});
