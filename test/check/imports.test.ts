// Imports: files resolve through the host, the standard library is implicit,
// missing files, unknown std modules and cycles are located at the import.

import { describe, expect, test } from 'vitest';
import { checkProgram } from '../../compiler/check/index.ts';
import { createMemoryHost } from '../../compiler/host.ts';
import { BASE_PROGRAM, check, codes, expectClean, expectDiagnostic } from './helpers.ts';

const SCHEDULE_LIBRARY = `schedule lib_gpipe(p, m) {
  on device d {
    F[0..m]
    B[0..m]
  }
}
`;

describe('imports', () => {
  test('a schedule declared in an imported file can be used', () => {
    const text = `import "./lib/schedules.pipe"\n${BASE_PROGRAM.replace('schedule 1f1b', 'schedule lib_gpipe')}`;
    const result = check(text, { 'lib/schedules.pipe': SCHEDULE_LIBRARY });
    expectClean(result);
    expect(result.program!.pipeline.schedule.declaration?.name.name).toBe('lib_gpipe');
    expect([...result.sources.keys()]).toEqual(['main.pipe', 'lib/schedules.pipe', 'std:schedules']);
  });

  test('the standard library is imported implicitly, and explicitly without harm', () => {
    expectClean(check(BASE_PROGRAM));
    expectClean(check(`import "std:schedules"\n${BASE_PROGRAM}`));
  });

  test('a missing file is reported at its path', () => {
    const result = check(`import "./nope.pipe"\n${BASE_PROGRAM}`);
    const diagnostic = expectDiagnostic(result, 'PIPE2019', '"./nope.pipe"', "cannot find the imported file './nope.pipe'");
    expect(diagnostic.hint).toBe('looked for nope.pipe');
  });

  test('an unknown std module is reported', () => {
    expectDiagnostic(check(`import "std:optimizers"\n${BASE_PROGRAM}`), 'PIPE2021', '"std:optimizers"', "unknown standard library module 'std:optimizers'");
  });

  test('a cycle is reported once, at the import that closes it, naming the whole cycle', () => {
    const result = check(`import "./a.pipe"\n${BASE_PROGRAM}`, {
      'a.pipe': 'import "./b.pipe"\n',
      'b.pipe': 'import "./main.pipe"\n',
    });
    const diagnostic = expectDiagnostic(result, 'PIPE2020', '"./main.pipe"', 'import cycle: main.pipe → a.pipe → b.pipe → main.pipe');
    expect(diagnostic.span.file).toBe('b.pipe');
  });

  test('a file imported twice (a diamond) is loaded once', () => {
    const result = check(`import "./a.pipe"\nimport "./b.pipe"\n${BASE_PROGRAM.replace('schedule 1f1b', 'schedule lib_gpipe')}`, {
      'a.pipe': 'import "./lib.pipe"\n',
      'b.pipe': 'import "./lib.pipe"\n',
      'lib.pipe': SCHEDULE_LIBRARY,
    });
    expectClean(result);
    expect(codes(result)).not.toContain('PIPE2001');
  });

  test('a missing entry file is a diagnostic, not an exception', () => {
    const result = checkProgram('absent.pipe', createMemoryHost({}));
    expect(result.program).toBeUndefined();
    expect(result.diagnostics.map((d) => [d.code, d.message])).toEqual([['PIPE2019', "cannot find the imported file 'absent.pipe'"]]);
  });
});
