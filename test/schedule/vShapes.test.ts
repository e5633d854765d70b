// V-Half and V-Min against the controllable-memory paper (Qi et al. 2024)
// under unit costs (F = I = W = 1 per chunk): activation memory as the
// split-backward model counts it (a full stash from F until I), relative
// to 1F1B's, is the paper's ⌊(p+2)/2⌋ / p and ⌊(p+4)/3⌋ / p; the bubbles
// stay within the paper's ≈ p/2m and ≈ 2p/3m, V-Min at about 1F1B's throughput.

import { describe, expect, it } from 'vitest';
import { builtinSchedule } from '../../compiler/schedule/builtin.ts';
import { peakActivationBytes } from '../../compiler/schedule/memory.ts';
import type { ComputeSchedule } from '../../compiler/schedule/types.ts';
import { timeSchedule } from '../../compiler/schedule/unitTiming.ts';

const SHAPES = [[4, 8], [4, 16], [8, 16], [8, 32]] as const;

function build(name: string, p: number, m: number, v: number): ComputeSchedule {
  const result = builtinSchedule(name, { devices: p, microbatches: m, stagesPerDevice: v });
  expect(result.diagnostics.map((d) => d.message)).toEqual([]);
  return result.schedule!;
}

/** Peak over devices, in units of one device's layers for one microbatch (a V chunk is half of that); W keeps `weightShare` of a stash. */
function peakMemory(schedule: ComputeSchedule, v: number, weightShare: number): number {
  const chunk = 1 / v;
  return Math.max(...peakActivationBytes(schedule, Array.from({ length: schedule.stages }, () => ({ activationBytes: chunk, weightGradientBytes: chunk * weightShare }))));
}

function bubble(schedule: ComputeSchedule, v: number): number {
  // F + I + W (or F + B) per chunk and microbatch: 3 units.
  return 1 - (3 * schedule.microbatches * v) / timeSchedule(schedule).makespan;
}

describe('V-Half and V-Min as the paper has them (unit costs)', () => {
  for (const [p, m] of SHAPES) {
    it(`p = ${p}, m = ${m}`, () => {
      const oneF1B = build('1f1b', p, m, 1);
      const half = build('v_half', p, m, 2);
      const min = build('v_min', p, m, 2);
      const baseline = peakMemory(oneF1B, 1, 0);
      expect(baseline).toBe(p);
      expect(peakMemory(half, 2, 0) / baseline).toBeCloseTo(Math.floor((p + 2) / 2) / p, 9);
      expect(peakMemory(min, 2, 0) / baseline).toBeCloseTo(Math.floor((p + 4) / 3) / p, 9);
      // W's part, at half a stash, kept in check by the activations limit: still below 1F1B.
      expect(peakMemory(half, 2, 0.5)).toBeLessThan(baseline);
      expect(peakMemory(min, 2, 0.5)).toBeLessThan(baseline);
      expect(bubble(half, 2)).toBeLessThanOrEqual(p / (2 * m));
      expect(bubble(min, 2)).toBeLessThanOrEqual((2 * p) / (3 * m));
      // Comparable throughput: V-Min's makespan (two half-size chunks per device) within 5 % of 1F1B's.
      expect(timeSchedule(min).makespan / 2).toBeLessThanOrEqual(1.05 * timeSchedule(oneF1B).makespan);
      expect(bubble(half, 2)).toBeLessThan(bubble(min, 2));
    });
  }
});
