// Golden diagnostics: every wrong program under test/cases/diagnostics/ is
// checked (types, placement, then schedule and memory) and rendered (no
// colour) exactly as `pipec check` prints it; the
// rendering is compared with the .diagnostics.txt file beside it. A case
// named PIPEnnnn-... must produce that code. Update with `npx vitest run -u`
// and review the diff: right line:col, right span, a message that helps.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { checkLikeCli } from '../helpers/compileFiles.ts';
import { CASES_DIRECTORY, caseOptions, renderCase } from '../../scripts/gen-diagnostics-doc.ts';

function diagnosticCases(): string[] {
  return readdirSync(CASES_DIRECTORY).filter((file) => file.endsWith('.pipe')).sort();
}

describe('golden diagnostics', () => {
  test('there are at least 40 distinct wrong programs', () => {
    expect(diagnosticCases().length).toBeGreaterThanOrEqual(40);
  });

  for (const file of diagnosticCases()) {
    test(file, async () => {
      const relative = path.join(CASES_DIRECTORY, file);
      const rendered = renderCase(relative);
      await expect(rendered).toMatchFileSnapshot(path.join('..', 'cases', 'diagnostics', file.replace(/\.pipe$/, '.diagnostics.txt')));
      const result = checkLikeCli(relative, caseOptions(readFileSync(relative, 'utf8')));
      const expectedCode = file.split('-')[0];
      expect(result.diagnostics.map((d) => d.code)).toContain(expectedCode);
    });
  }
});
