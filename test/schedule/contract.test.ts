// A schedule's contract, written in its declaration: the default v, the
// placement and the conditions (compiler/schedule/contract.ts), read the
// same way by builtinSchedule (bare mode) and evaluateSchedule.

import { describe, expect, it } from 'vitest';
import { placeRegular } from '../../compiler/placement.ts';
import { builtinSchedule, builtinScheduleContract, defaultStagesPerDevice, standardSchedules } from '../../compiler/schedule/builtin.ts';
import { checkScheduleContract, contractDiagnosticAt, requiredPlacement, scheduleContract } from '../../compiler/schedule/contract.ts';
import { evaluateSchedule } from '../../compiler/schedule/evaluate.ts';
import { spanOf } from '../../grammar/source.ts';
import { declarationFrom, shapeOf } from './helpers.ts';

const errors = (result: { diagnostics: readonly { severity: string; code: string; message: string; span: { file: string } }[] }) =>
  result.diagnostics.filter((d) => d.severity === 'error');

describe('reading a contract', () => {
  it('reads placement, default v, split backward and conditions with their messages', () => {
    const contract = scheduleContract(declarationFrom('schedule s(p, m, v = 2) {\n  requires placement v\n  requires v == 2\n  requires m >= 2 * p "needs at least 2p microbatches"\n  split backward\n  priority I > F > W\n}'));
    expect(contract.placement?.kind).toBe('v');
    expect(contract.defaultStagesPerDevice).toBe(2);
    expect(contract.splitBackward).toBe(true);
    expect(contract.requirements.map((r) => r.message)).toEqual([undefined, 'needs at least 2p microbatches']);
  });

  it('the standard library states every built-in contract', () => {
    const contract = (name: string) => builtinScheduleContract(name)!;
    for (const name of ['zb_v', 'v_half', 'v_min', 'dualpipe_v']) {
      expect(contract(name).placement?.kind, name).toBe('v');
      expect(contract(name).defaultStagesPerDevice, name).toBe(2);
      expect(contract(name).requirements.length, name).toBeGreaterThan(0);
    }
    for (const name of ['interleaved_1f1b', 'looped_bfs']) {
      expect(contract(name).placement?.kind, name).toBe('loop');
      expect(contract(name).defaultStagesPerDevice, name).toBe(2);
    }
    expect(contract('dualpipe-v').requirements.map((r) => r.message)).toContain('needs at least 2p microbatches');
    expect(defaultStagesPerDevice('1f1b')).toBe(1);
    expect(defaultStagesPerDevice('ZB-V')).toBe(2);
    expect(requiredPlacement(standardSchedules().get('zb_h1')!)).toBeUndefined();
  });
});

describe('builtinSchedule holds the shape against the contract', () => {
  it('rejects zb_v with three stages per device, with the contract message', () => {
    const result = builtinSchedule('zb_v', { devices: 4, microbatches: 8, stagesPerDevice: 3 });
    expect(result.schedule).toBeUndefined();
    expect(errors(result).map((d) => `${d.code} ${d.message}`)).toEqual(["PIPE4032 schedule 'zb_v' runs two stages per device, in a V (v = 3)"]);
    expect(errors(result)[0].span.file).toBe('std:schedules');
  });

  it('rejects v_half with one stage per device', () => {
    const result = builtinSchedule('v-half', { devices: 4, microbatches: 8, stagesPerDevice: 1 });
    expect(result.schedule).toBeUndefined();
    expect(errors(result)[0].message).toBe("schedule 'v_half' runs two stages per device, in a V (v = 1)");
  });

  it('rejects dualpipe_v with m < 2p', () => {
    const result = builtinSchedule('dualpipe_v', { devices: 4, microbatches: 6 });
    expect(result.schedule).toBeUndefined();
    expect(errors(result).map((d) => d.message)).toEqual(["schedule 'dualpipe_v' needs at least 2p microbatches (p = 4, m = 6)"]);
    expect(builtinSchedule('dualpipe_v', { devices: 4, microbatches: 8 }).schedule).toBeDefined();
  });

  it('defaults v from the contract: interleaved without v runs two chunks', () => {
    const interleaved = builtinSchedule('interleaved_1f1b', { devices: 4, microbatches: 8 }).schedule!;
    expect(interleaved.stages).toBe(8);
    expect(interleaved.stageDevice).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    const zbv = builtinSchedule('zb-v', { devices: 4, microbatches: 8 }).schedule!;
    expect(zbv.stageDevice).toEqual([0, 1, 2, 3, 3, 2, 1, 0]);
    expect(builtinSchedule('1f1b', { devices: 4, microbatches: 8 }).schedule!.stages).toBe(4);
  });
});

describe('evaluateSchedule and checkScheduleContract', () => {
  const declaration = declarationFrom('schedule s(p, m, k = 2) {\n  requires m % (k * p) == 0 "needs microbatches in groups of k·p"\n  split backward\n  priority I > F > W\n}');

  it('checks conditions over the shape and the parameters, defaults included', () => {
    expect(checkScheduleContract(declaration, { devices: 2, microbatches: 8, stagesPerDevice: 1 }).violations).toEqual([]);
    const held = checkScheduleContract(declaration, { devices: 2, microbatches: 6, stagesPerDevice: 1 });
    expect(held.violations.map((v) => [v.kind, v.reason, v.diagnostic.message])).toEqual([
      ['condition', 'needs microbatches in groups of k·p', "schedule 's' needs microbatches in groups of k·p (p = 2, m = 6, k = 2)"],
    ]);
    expect(checkScheduleContract(declaration, { devices: 2, microbatches: 6, stagesPerDevice: 1 }, { k: 3 }).violations).toEqual([]);
    const evaluated = evaluateSchedule(declaration, shapeOf(2, 6), {});
    expect(evaluated.schedule).toBeUndefined();
    expect(errors(evaluated).map((d) => d.code)).toEqual(['PIPE4032']);
  });

  it('checks the placement against the map, whatever was declared', () => {
    const v = declarationFrom('schedule s(p, m) {\n  requires placement v\n  split backward\n  priority I > F > W\n}');
    const written = { devices: 2, microbatches: 4, stagesPerDevice: 2 };
    expect(checkScheduleContract(v, { ...written, placement: placeRegular('wave', 2, 2) }).violations).toEqual([]);
    const loop = checkScheduleContract(v, { ...written, placement: placeRegular('loop', 2, 2) }).violations;
    expect(loop.map((violation) => [violation.kind, violation.required, violation.actual])).toEqual([['placement', 'v', 'loop']]);
  });

  it('a violation at a use site keeps the requirement as related span', () => {
    const violation = checkScheduleContract(declaration, { devices: 2, microbatches: 6, stagesPerDevice: 1 }).violations[0];
    const use = spanOf('user.pipe', 10, 20);
    const diagnostic = contractDiagnosticAt(violation, use);
    expect(diagnostic.span).toEqual(use);
    expect(diagnostic.related).toEqual([{ span: violation.span, message: 'required here' }]);
  });

  it('a condition that is not true or false is reported in the declaration', () => {
    const bad = declarationFrom('schedule s(p, m) {\n  requires m - p\n  priority F > B\n}');
    const held = checkScheduleContract(bad, { devices: 2, microbatches: 4, stagesPerDevice: 1 });
    expect(held.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual(['PIPE4033 `m - p` is 2, but a requirement must be true or false']);
  });
});
