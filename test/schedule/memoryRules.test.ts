// Memory rules of rule schedules (`recompute when live > K`, `recompute
// ratio R`, `offload ratio R`, `offload when live > K`): the list scheduler
// checkpoints or offloads the forwards the trigger picks and places R, O and
// L as docs/schedules.md ("Memory rules") says; the orders validate and hold
// less than the same rules without them.

import { describe, expect, it } from 'vitest';
import { evaluateSchedule } from '../../compiler/schedule/evaluate.ts';
import { memoryProfile } from '../../compiler/schedule/memory.ts';
import type { ComputeSchedule } from '../../compiler/schedule/types.ts';
import { validateSchedule } from '../../compiler/schedule/validate.ts';
import { declarationFrom, rows, shapeOf } from './helpers.ts';

function oneF1B(extra: string, split = false): ComputeSchedule {
  const declaration = declarationFrom(`schedule knobbed(p, m) {
  ${split ? 'split backward' : ''}
  limit activations <= p - d
  ${extra}
}`);
  const evaluated = evaluateSchedule(declaration, shapeOf(4, 8), {});
  expect(evaluated.diagnostics.map((d) => d.message)).toEqual([]);
  return evaluated.schedule!;
}

// Stash 10 bytes, stage input (the checkpoint) 1 byte.
const SIZES = Array.from({ length: 4 }, () => ({ activationBytes: 10, inputBytes: 1 }));

/** Per device: the most full stashes held right after a forward, and at any point (a recompute adds one). */
function fullStashCounts(schedule: ComputeSchedule): { afterForward: number; anywhere: number }[] {
  return schedule.orders.map((order) => {
    const recomputed = new Set(order.filter((a) => a.operation === 'R').map((a) => `${a.stage}:${a.microbatch}`));
    const offloaded = new Set(order.filter((a) => a.operation === 'O').map((a) => `${a.stage}:${a.microbatch}`));
    let full = 0;
    let afterForward = 0;
    let anywhere = 0;
    for (const action of order) {
      const key = `${action.stage}:${action.microbatch}`;
      // An offload moves the stash out as its forward ends: it never counts on the device until its reload.
      if (action.operation === 'F' && !recomputed.has(key) && !offloaded.has(key)) {
        full++;
        afterForward = Math.max(afterForward, full);
      }
      if (action.operation === 'R' || action.operation === 'L') full++;
      if (action.operation === 'B' || action.operation === 'I') full--;
      anywhere = Math.max(anywhere, full);
    }
    return { afterForward, anywhere };
  });
}

describe('recompute when live > K', () => {
  for (const k of [1, 2]) {
    it(`K = ${k}: no forward leaves more than ${k} full stashes, a recompute at most one more, and the order validates`, () => {
      const schedule = oneF1B(`recompute when live > ${k}`);
      expect(validateSchedule(schedule)).toEqual([]);
      for (const counts of fullStashCounts(schedule)) {
        expect(counts.afterForward).toBeLessThanOrEqual(k);
        expect(counts.anywhere).toBeLessThanOrEqual(k + 1);
      }
      const plain = memoryProfile(oneF1B(''), SIZES).device;
      const knobbed = memoryProfile(schedule, SIZES).device;
      // Device 0 holds 4 stashes under 1F1B; K + 1 full ones and checkpoints now.
      expect(knobbed[0]).toBeLessThan(plain[0]);
      expect(knobbed[0]).toBeLessThanOrEqual((k + 1) * 10 + (4 - k - 1) * 1);
      // Device 3 (the last stage) never holds more than one stash: nothing to recompute.
      expect(schedule.orders[3].some((a) => a.operation === 'R')).toBe(false);
    });
  }

  it('puts each R before the backward of its microbatch, after its forward', () => {
    const schedule = oneF1B('recompute when live > 1', true);
    expect(validateSchedule(schedule)).toEqual([]);
    for (const order of schedule.orders) {
      order.forEach((action, k) => {
        if (action.operation !== 'R') return;
        const forward = order.findIndex((a) => a.operation === 'F' && a.stage === action.stage && a.microbatch === action.microbatch);
        const backward = order.findIndex((a) => a.operation === 'I' && a.stage === action.stage && a.microbatch === action.microbatch);
        expect(forward).toBeLessThan(k);
        expect(backward).toBeGreaterThan(k);
      });
    }
  });
});

describe('recompute ratio R', () => {
  it('ratio 1 checkpoints every forward whose backward is not next, and spends the wait for the first gradient on the first recompute', () => {
    const schedule = oneF1B('recompute ratio 1');
    expect(validateSchedule(schedule)).toEqual([]);
    // Device 0 waits for microbatch 0's gradient after its warm-up forwards: R0 fills that wait.
    expect(rows(schedule)[0].startsWith('0F0 0F1 0F2 0F3 0R0 0B0')).toBe(true);
    // The last stage runs each backward right after its forward: no checkpoints there.
    expect(schedule.orders[3].filter((a) => a.operation === 'R')).toEqual([]);
  });

  it('ratio 0.5 checkpoints only odd microbatches', () => {
    const schedule = oneF1B('recompute ratio 0.5');
    expect(validateSchedule(schedule)).toEqual([]);
    const recomputed = schedule.orders.flatMap((order) => order.filter((a) => a.operation === 'R').map((a) => a.microbatch));
    expect(recomputed.length).toBeGreaterThan(0);
    expect(recomputed.every((i) => i % 2 === 1)).toBe(true);
  });
});

describe('offload ratio R and offload when live > K', () => {
  it('ratio 0.5 offloads odd microbatches right after their forward and reloads each during the backward before it', () => {
    const schedule = oneF1B('offload ratio 0.5');
    expect(validateSchedule(schedule)).toEqual([]);
    const device0 = rows(schedule)[0].split(' ');
    const offloaded = device0.filter((cell) => cell[1] === 'O').map((cell) => Number(cell.slice(2)));
    expect(offloaded).toEqual([1, 3, 5, 7]);
    for (const i of offloaded) {
      expect(device0.indexOf(`0O${i}`)).toBe(device0.indexOf(`0F${i}`) + 1);
      // L of i comes just before the backward of i - 1 starts.
      expect(device0.indexOf(`0L${i}`)).toBe(device0.indexOf(`0B${i - 1}`) - 1);
    }
    const profile = memoryProfile(schedule, SIZES);
    expect(profile.device[0]).toBeLessThan(memoryProfile(oneF1B(''), SIZES).device[0]);
    expect(profile.host[0]).toBeGreaterThan(0);
    expect(schedule.orders[3].some((a) => a.operation === 'O')).toBe(false);
  });

  it('when live > 2 offloads device 0\'s forwards past two full stashes', () => {
    const schedule = oneF1B('offload when live > 2');
    expect(validateSchedule(schedule)).toEqual([]);
    expect(fullStashCounts(schedule)[0].afterForward).toBeLessThanOrEqual(2);
    expect(memoryProfile(schedule, SIZES).device[0]).toBeLessThanOrEqual(30);
  });

  it('recompute and offload rules together never plan both for one pair', () => {
    const schedule = oneF1B('offload ratio 0.5\n  recompute when live > 1');
    expect(validateSchedule(schedule)).toEqual([]);
    const ops = schedule.orders.flatMap((order) => order.filter((a) => a.operation === 'R' || a.operation === 'O'));
    expect(ops.some((a) => a.operation === 'R')).toBe(true);
    expect(ops.some((a) => a.operation === 'O')).toBe(true);
  });

  it('an offloaded backward waits for its reload on the copy stream', () => {
    const declaration = declarationFrom(`schedule knobbed(p, m) {
  limit activations <= p - d
  offload ratio 1
}`);
    const shape = shapeOf(2, 4);
    const slow = { kind: 'derived' as const, stages: [0, 1].map(() => ({ forward: 1, backward: 2, backwardInput: 1, backwardWeight: 1, activation: 100 })), sendActivation: [0, 0], sendGradient: [0, 0], hostBandwidth: 10 };
    const fast = { ...slow, hostBandwidth: 1e9 };
    const [slowOrder, fastOrder] = [slow, fast].map((costs) => evaluateSchedule(declaration, shape, {}, { costs }).schedule!);
    expect(validateSchedule(slowOrder)).toEqual([]);
    expect(rows(fastOrder)[0]).toContain('0O1');
    // 10 time units per copy: the reloads decide when device 0's backwards run, so its order may differ, never its validity.
    expect(rows(slowOrder)[0]).toContain('0L1');
  });
});

describe('memory rules on other shapes', () => {
  const rules = ['recompute when live > 1', 'recompute ratio 0.5', 'offload ratio 1', 'offload when live > 1\n  recompute ratio 1'];
  for (const [placement, v] of [['loop', 1], ['loop', 2], ['v', 2]] as const) {
    for (const split of [false, true]) {
      it(`every rule validates with ${placement} placement, v = ${v}${split ? ', split backward' : ''}, p = 2..4, m = p..2p`, () => {
        for (let p = 2; p <= 4; p++) {
          for (let m = p; m <= 2 * p; m += p) {
            for (const rule of rules) {
              const declaration = declarationFrom(`schedule knobbed(p, m) {
  ${split ? 'split backward' : ''}
  limit activations <= 2 * p
  ${rule}
}`);
              const evaluated = evaluateSchedule(declaration, shapeOf(p, m, v, placement), {});
              expect(evaluated.diagnostics.map((d) => d.message)).toEqual([]);
              expect(validateSchedule(evaluated.schedule!)).toEqual([]);
            }
          }
        }
      });
    }
  }
});
