// Schedule use: names resolve among user and standard schedules, arguments
// match parameters (p, m, n, v come from the pipeline), the schedule's
// contract (`requires placement`, `requires CONDITION`) holds, and `auto(memory: ...)` takes bytes or K * activations(NAME).

import { describe, expect, test } from 'vitest';
import type { ScheduleDeclaration } from '../../grammar/ast.ts';
import { parse } from '../../grammar/index.ts';
import { compileCheckedProgram } from '../../compiler/compilation.ts';
import { check, expectClean, expectDiagnostic, variant } from './helpers.ts';

const USER_SCHEDULE = `
schedule warm(p, m, depth = 2) {
  on device d {
    F[0..m]
    B[0..m]
  }
}
`;

describe('schedule use', () => {
  test('standard and user schedules resolve, keeping their declaration', () => {
    const standard = check(variant(['schedule 1f1b', 'schedule gpipe']));
    expectClean(standard);
    expect(standard.program!.pipeline.schedule.declaration?.span.file).toBe('std:schedules');
    const user = check(variant(['schedule 1f1b', 'schedule warm(depth: 3)']) + USER_SCHEDULE);
    expectClean(user);
    expect(user.program!.pipeline.schedule).toMatchObject({ name: 'warm', args: { depth: 3 } });
    expect(user.program!.schedules.has('warm') && user.program!.schedules.has('zb_v')).toBe(true);
  });

  test('unknown schedules suggest the closest', () => {
    expect(expectDiagnostic(check(variant(['schedule 1f1b', 'schedule zbv'])), 'PIPE2036', 'zbv', "unknown schedule 'zbv'").hint).toBe("did you mean 'zb_v'?");
  });

  test('arguments: unknown, missing, bound from the pipeline, positional', () => {
    expectDiagnostic(check(variant(['schedule 1f1b', 'schedule warm(dept: 3)']) + USER_SCHEDULE), 'PIPE4011', 'dept', "schedule 'warm' has no parameter 'dept'");
    const missing = check(variant(['schedule 1f1b', 'schedule warm']) + USER_SCHEDULE.replace('depth = 2', 'depth'));
    expectDiagnostic(missing, 'PIPE4010', 'schedule warm', "schedule 'warm' needs a value for 'depth'");
    expectDiagnostic(check(variant(['schedule 1f1b', 'schedule 1f1b(m: 4)'])), 'PIPE2037', 'm: 4', "'m' is bound from the pipeline and cannot be passed");
    expectDiagnostic(check(variant(['schedule 1f1b', 'schedule 1f1b(v: 2)'])), 'PIPE2037', 'v: 2', 'v is bound from the pipeline (1 stage(s) per device), not 2');
    expectClean(check(variant(['schedule 1f1b', 'schedule 1f1b(v: 1)'])));
    expectDiagnostic(check(variant(['schedule 1f1b', 'schedule warm(3)']) + USER_SCHEDULE), 'PIPE2037', '3', 'arguments must be named');
  });

  test('requires placement: V schedules need a V placement', () => {
    const diagnostic = expectDiagnostic(check(variant(['schedule 1f1b', 'schedule v_half'])), 'PIPE4012', 'schedule v_half', "schedule 'v_half' requires placement v");
    expect(diagnostic.related[0].span.file).toBe('std:schedules');
  });

  test('hanayo takes its waves from the stage count; a waves argument must agree with it', () => {
    // Two devices, four stages in a wave: two stages per device, one wave.
    const text = (schedule: string) => variant(
      ['layer fc2 = Dense(units: 64, activation: relu)\n', 'layer fc2 = Dense(units: 64, activation: relu)\n  layer fc3 = Dense(units: 64, activation: relu)\n'],
      ['  stages {\n    s0 on gpu[0] = fc1, fc2\n    s1 on gpu[1] = out\n  }\n', '  stages placement wave {\n    s0 = fc1\n    s1 = fc2\n    s2 = fc3\n    s3 = out\n  }\n'],
      ['schedule 1f1b', schedule],
    );
    expectClean(check(text('schedule hanayo')));
    expectClean(check(text('schedule hanayo(waves: 1)')));
    expectDiagnostic(check(text('schedule hanayo(waves: 2)')), 'PIPE4032', 'schedule hanayo(waves: 2)',
      "schedule 'hanayo' runs 2·waves stages per device (the model zig-zags over the devices waves times) (v = 2, waves = 2)");
  });

  test('contract conditions are reported at the schedule line, the requirement related', () => {
    // Two devices, V placement of four stages, two microbatches: DualPipeV needs 2p = 4.
    const text = variant(
      ['layer fc2 = Dense(units: 64, activation: relu)\n', 'layer fc2 = Dense(units: 64, activation: relu)\n  layer fc3 = Dense(units: 64, activation: relu)\n'],
      ['microbatches 8', 'microbatches 2'],
      ['  stages {\n    s0 on gpu[0] = fc1, fc2\n    s1 on gpu[1] = out\n  }\n', '  stages placement v {\n    s0 = fc1\n    s1 = fc2\n    s2 = fc3\n    s3 = out\n  }\n'],
      ['schedule 1f1b', 'schedule dualpipe_v'],
    );
    const diagnostic = expectDiagnostic(check(text), 'PIPE4032', 'schedule dualpipe_v', "schedule 'dualpipe_v' needs at least 2p microbatches (p = 2, m = 2)");
    expect(diagnostic.span.file).not.toBe('std:schedules');
    expect(diagnostic.related.map((r) => [r.span.file, r.message])).toEqual([['std:schedules', 'required here']]);
    // A user's own contract reads the same way, with its arguments.
    const own = `
schedule grouped(p, m, k = 1) {
  requires m % (k * p) == 0 "needs microbatches in groups of k·p"
  split backward
  priority I > F > W
}
`;
    expectClean(check(variant(['schedule 1f1b', 'schedule grouped']) + own));
    expectDiagnostic(check(variant(['schedule 1f1b', 'schedule grouped(k: 3)']) + own), 'PIPE4032', 'schedule grouped(k: 3)', "schedule 'grouped' needs microbatches in groups of k·p (p = 2, m = 8, k = 3)");
  });

  test("an evaluation error inside the standard library is reported at the user's schedule line", () => {
    const checked = check(variant(['schedule 1f1b', 'schedule gpipe']));
    expectClean(checked);
    // A library schedule that fails for this shape (none of the real ones do: their contracts say when they cannot run).
    const library = parse({ name: 'std:broken', text: 'schedule gpipe(p, m) {\n  on device d {\n    let w = m / (p - 2)\n    F[0..m]\n    B[0..m]\n  }\n}\n' });
    const declaration = library.document.declarations[0] as ScheduleDeclaration;
    const program = { ...checked.program!, pipeline: { ...checked.program!.pipeline, schedule: { ...checked.program!.pipeline.schedule, declaration } } };
    const compiled = compileCheckedProgram(program, { costs: { kind: 'unit' } });
    const error = compiled.diagnostics.find((d) => d.code === 'PIPE4002')!;
    expect(error.span).toEqual(program.pipeline.schedule.span);
    expect(error.related[0]).toMatchObject({ span: { file: 'std:broken' }, message: "in schedule 'gpipe' (std:broken)" });
  });

  test('auto schedules take bytes or a multiple of a schedule\'s activations', () => {
    const relative = check(variant(['schedule 1f1b', 'schedule auto(memory: 1.5 * activations(1f1b))']));
    expectClean(relative);
    expect(relative.program!.pipeline.schedule).toMatchObject({ name: 'auto', args: { memory: 1.5, memoryUnit: 'activations', reference: '1f1b' } });
    expect(relative.program!.pipeline.schedule.declaration).toBeUndefined();
    const bytes = check(variant(['schedule 1f1b', 'schedule auto(memory: 2GiB)']));
    expect(bytes.program!.pipeline.schedule.args).toEqual({ memory: 2 * 2 ** 30, memoryUnit: 'bytes' });
    expectDiagnostic(check(variant(['schedule 1f1b', 'schedule auto(memory: 2)'])), 'PIPE2039', '2', 'got the plain number 2');
    expectDiagnostic(check(variant(['schedule 1f1b', 'schedule auto(memory: activations(1f1c))'])), 'PIPE2036', '1f1c', "unknown schedule '1f1c'");
    expectDiagnostic(check(variant(['schedule 1f1b', 'schedule auto'])), 'PIPE2037', 'schedule auto', 'it needs the argument memory');
  });

  test('auto takes exact and the memory-action flags together, but not exact with memory actions asked for', () => {
    const both = check(variant(['schedule 1f1b', 'schedule auto(memory: 2GiB, exact: true, recompute: false)']));
    expectClean(both);
    expect(both.program!.pipeline.schedule.args).toEqual({ memory: 2 * 2 ** 30, memoryUnit: 'bytes', exact: true, recompute: false });
    expectDiagnostic(check(variant(['schedule 1f1b', 'schedule auto(memory: 2GiB, exact: true, offload: true)'])), 'PIPE2037', 'offload: true', 'cannot be combined with recompute: true or offload: true');
    expectDiagnostic(check(variant(['schedule 1f1b', 'schedule auto(memory: 2GiB, speed: true)'])), 'PIPE2037', 'speed: true', 'optionally exact, recompute and offload');
  });
});
