// Evaluation of user-written schedules: both forms, and every evaluation
// mistake as a diagnostic at the offending expression.

import { describe, expect, it } from 'vitest';
import { evaluateSchedule } from '../../compiler/schedule/evaluate.ts';
import { validateSchedule } from '../../compiler/schedule/validate.ts';
import { timeSchedule } from '../../compiler/schedule/unitTiming.ts';
import { peakLiveActivations } from '../../compiler/schedule/memory.ts';
import { declarationFrom, rows, shapeOf } from './helpers.ts';

function evaluate(text: string, shape = shapeOf(4, 8), args: Record<string, number> = {}) {
  const declaration = declarationFrom(text);
  const result = evaluateSchedule(declaration, shape, args, { sources: new Map([['test.pipe', text]]) });
  const located = result.diagnostics.map((d) => ({ code: d.code, message: d.message, at: text.slice(d.span.start, d.span.end) }));
  return { ...result, located };
}

describe('explicit schedules', () => {
  it('runs lets, ranges, loops and conditionals per device (the sketch\'s 1F1B)', () => {
    const { schedule, diagnostics } = evaluate(`
schedule my_1f1b(p, m) {
  on device d {
    let w = min(p - d - 1, m)
    F[0..w]
    for i in 0..m - w { F[i + w]; B[i] }
    B[m - w..m]
  }
}`, shapeOf(3, 4));
    expect(diagnostics).toEqual([]);
    expect(rows(schedule!)).toEqual([
      '0F0 0F1 0F2 0B0 0F3 0B1 0B2 0B3',
      '1F0 1F1 1B0 1F2 1B1 1F3 1B2 1B3',
      '2F0 2B0 2F1 2B1 2F2 2B2 2F3 2B3',
    ]);
    expect(validateSchedule(schedule!)).toEqual([]);
    expect(schedule!.orders[0][3].span).toBeDefined();
  });

  it('maps chunk c to the c-th lowest stage on the device and groups overlap blocks', () => {
    const { schedule, diagnostics } = evaluate(`
schedule v2(p, m) {
  requires placement v
  on device d {
    for i in 0..m { F[i, 0] }
    for i in 0..m { overlap { F[i, 1]; B[i, 1] } }
    for i in 0..m { B[i, 0] }
  }
}`, shapeOf(2, 2, 2, 'v'));
    expect(diagnostics).toEqual([]);
    // V placement on 2 devices: stages 0,3 on device 0 and 1,2 on device 1.
    expect(rows(schedule!)).toEqual(['0F0 0F1 3F0 3B0 3F1 3B1 0B0 0B1', '1F0 1F1 2F0 2B0 2F1 2B1 1B0 1B1']);
    const groups = schedule!.orders[0].map((a) => a.overlapGroup);
    expect(groups[2]).toBe(groups[3]);
    expect(groups[4]).toBe(groups[5]);
    expect(groups[2]).not.toBe(groups[4]);
    expect(groups[0]).toBeUndefined();
  });

  it('takes parameters from arguments, then defaults', () => {
    const text = 'schedule g(p, m, depth = 2) { on device d { F[0..min(depth, m)]; F[min(depth, m)..m]; B[0..m] } }';
    expect(evaluate(text).diagnostics).toEqual([]);
    const missing = evaluate('schedule g(p, m, depth) { on device d { F[0..m]; B[0..m] } }');
    expect(missing.located).toEqual([{ code: 'PIPE4010', message: "schedule 'g' needs a value for 'depth'", at: 'depth' }]);
    const unknown = evaluate(text, shapeOf(4, 8), { width: 3 });
    expect(unknown.located[0]).toMatchObject({ code: 'PIPE4011', message: "schedule 'g' has no parameter 'width'" });
  });

  const mistakes: Array<[string, string, string, string]> = [
    ['division by zero', 'on device d { let z = 0\n F[m / z] }', 'PIPE4002', 'm / z'],
    ['a backwards range', 'on device d { F[0..m]; B[m..0] }', 'PIPE4004', 'm..0'],
    ['an unknown name', 'on device d { F[0..q] }', 'PIPE4001', 'q'],
    ['an unknown function', 'on device d { F[0..sqrt(m)] }', 'PIPE4005', 'sqrt'],
    ['a fraction as microbatch', 'on device d { F[m / 3] }', 'PIPE4003', 'm / 3'],
    ['a chunk the device lacks', 'on device d { F[0, 1] }', 'PIPE4008', '1'],
    ['a microbatch out of range', 'on device d { F[0..m + 1] }', 'PIPE4007', '0..m + 1'],
    ['a runaway loop', 'on device d { for i in 0..1000000000000 { let x = i } }', 'PIPE4031', '0..1000000000000'],
    ['a loop that emits far too much', 'on device d { for i in 0..100000 { F[0..m] } }', 'PIPE4031', '0..m'],
  ];
  for (const [what, body, code, at] of mistakes) {
    it(`reports ${what} at the offending expression`, () => {
      const result = evaluate(`schedule bad(p, m) { ${body} }`);
      expect(result.schedule).toBeUndefined();
      expect(result.located).toHaveLength(1);
      expect(result.located[0]).toMatchObject({ code, at });
    });
  }

  it('reports a required placement the pipeline does not have', () => {
    const result = evaluate('schedule s(p, m) { requires placement v\n on device d { F[0..m]; B[0..m] } }', shapeOf(2, 2, 2, 'loop'));
    expect(result.located).toEqual([{ code: 'PIPE4012', message: "schedule 's' requires placement v, but the stages are placed loop", at: 'requires placement v' }]);
  });

  it('`requires split backward` splits a rule schedule and forbids B in an explicit one', () => {
    const rules = evaluate('schedule r(p, m) { requires split backward\n limit activations <= p\n priority I > F > W }');
    expect(rules.diagnostics).toEqual([]);
    expect(rules.schedule!.splitBackward).toBe(true);
    const explicit = evaluate('schedule e(p, m) { requires split backward\n on device d { F[0..m]; B[0..m] } }');
    expect(explicit.located).toEqual([{ code: 'PIPE4029', message: "schedule 'e' requires split backward, but device 0 runs a full backward (0B0)", at: 'B[0..m]' }]);
  });

  it('rejects a body that mixes the explicit and the rules form', () => {
    const result = evaluate('schedule s(p, m) { split backward\n on device d { F[0..m]; B[0..m] } }');
    expect(result.located[0]).toMatchObject({ code: 'PIPE4009', at: 'split backward' });
  });
});

describe('rule schedules (the list scheduler)', () => {
  it('1F1B from rules: limit p - d with backward first reproduces 1F1B', () => {
    const { schedule, diagnostics } = evaluate('schedule r(p, m) { limit activations <= p - d per device\n priority B > F }');
    expect(diagnostics).toEqual([]);
    expect(validateSchedule(schedule!)).toEqual([]);
    expect(peakLiveActivations(schedule!)).toEqual([4, 3, 2, 1]);
    expect(timeSchedule(schedule!).makespan).toBe(33);
  });

  it('split backward with W last fills the bubbles and respects the limit', () => {
    const { schedule, diagnostics } = evaluate('schedule r(p, m) { split backward\n limit activations <= p\n priority I > F > W }');
    expect(diagnostics).toEqual([]);
    expect(schedule!.splitBackward).toBe(true);
    expect(validateSchedule(schedule!)).toEqual([]);
    peakLiveActivations(schedule!).forEach((peak) => expect(peak).toBeLessThanOrEqual(4));
    expect(timeSchedule(schedule!).makespan).toBeLessThan(33);
  });

  it('uses the cost model it is given', () => {
    const text = 'schedule r(p, m) { split backward\n priority I > F > W }';
    const slowLast = {
      kind: 'measured' as const,
      stages: [0, 1, 2, 3].map((s) => ({ forward: s === 3 ? 4 : 1, backward: 2, backwardInput: 1, backwardWeight: 1, activation: 1 })),
      sendActivation: [0, 0, 0, 0],
      sendGradient: [0, 0, 0, 0],
    };
    const declaration = declarationFrom(text);
    const unit = evaluateSchedule(declaration, shapeOf(4, 8), {}).schedule!;
    const costed = evaluateSchedule(declaration, shapeOf(4, 8), {}, { costs: slowLast }).schedule!;
    expect(validateSchedule(costed)).toEqual([]);
    expect(rows(costed)).not.toEqual(rows(unit));
    expect(timeSchedule(costed, { costs: slowLast }).makespan).toBeLessThanOrEqual(timeSchedule(unit, { costs: slowLast }).makespan);
  });

  it('a limit that leaves nothing runnable is a diagnostic at the limit', () => {
    const result = evaluate('schedule r(p, m) { limit activations <= 0\n priority B > F }');
    expect(result.schedule).toBeUndefined();
    expect(result.located[0]).toMatchObject({ code: 'PIPE4015', at: 'limit activations <= 0' });
    expect(result.located[0].message).toContain('device 0 holds 0 activations, its limit is 0');
  });
});
