// Golden diagnostics: every wrong program under test/cases/diagnostics/ is
// checked and rendered (no colour) exactly as `pipec check` prints it; the
// rendering is compared with the .diagnostics.txt file beside it. A case
// named PIPEnnnn-... must produce that code. Update with `npx vitest run -u`
// and review the diff: right line:col, right span, a message that helps.

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadAndCheck } from '../../cli/loadProgram.ts';
import { renderDiagnostics } from '../../cli/render.ts';

export const CASES_DIRECTORY = 'test/cases/diagnostics';

export function diagnosticCases(): string[] {
  return readdirSync(CASES_DIRECTORY).filter((file) => file.endsWith('.pipe')).sort();
}

describe('golden diagnostics', () => {
  test('there are at least 40 distinct wrong programs', () => {
    expect(diagnosticCases().length).toBeGreaterThanOrEqual(40);
  });

  for (const file of diagnosticCases()) {
    test(file, async () => {
      const result = loadAndCheck(path.join(CASES_DIRECTORY, file));
      if (result.kind !== 'checked') throw new Error(`${file} could not be read`);
      const rendered = renderDiagnostics(result.diagnostics, result.sources, { color: false, format: 'text' });
      await expect(rendered).toMatchFileSnapshot(path.join('..', 'cases', 'diagnostics', file.replace(/\.pipe$/, '.diagnostics.txt')));
      const expectedCode = file.split('-')[0];
      expect(result.diagnostics.map((d) => d.code)).toContain(expectedCode);
    });
  }
});
