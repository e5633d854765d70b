// docs/diagnostics.md is generated (scripts/gen-diagnostics-doc.ts) and must
// be up to date; every code that `pipec check` can report (1xxx, 2xxx, 3xxx,
// and the schedule-use codes of 4xxx it shares) has a golden case, and every
// case is named after a code that exists.

import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { casesByCode, DOC_PATH, generateDiagnosticsDoc, messageTables } from '../../scripts/gen-diagnostics-doc.ts';

describe('docs/diagnostics.md', () => {
  test('is up to date (regenerate with: node scripts/gen-diagnostics-doc.ts)', () => {
    expect(readFileSync(DOC_PATH, 'utf8')).toBe(generateDiagnosticsDoc());
  });

  test('every code of the syntax, names and placement tables has a wrong program under test/cases/diagnostics', () => {
    const cases = casesByCode();
    const checkerTables = messageTables().filter((table) => /^PIPE[123]xxx/.test(table.title));
    // PIPE1201 and PIPE1203 need a file over 1 MiB or 250,000 tokens, too large to keep as a case or to print in the doc;
    // test/grammar/recovery.test.ts and test/fuzz/limits.test.ts build one instead.
    const tooLargeToKeep = new Set(['PIPE1201', 'PIPE1203']);
    const missing = checkerTables.flatMap((table) => table.messages.map((m) => m.code)).filter((code) => !cases.has(code) && !tooLargeToKeep.has(code));
    expect(missing).toEqual([]);
  });

  test('codes are unique across the tables and every case names an existing code', () => {
    const codes = messageTables().flatMap((table) => table.messages.map((m) => m.code));
    expect(new Set(codes).size).toBe(codes.length);
    const unknown = [...casesByCode().keys()].filter((code) => !codes.includes(code));
    expect(unknown).toEqual([]);
  });
});
