// Every input the fuzzer ever caught breaking a promise, shrunk and kept
// under test/cases/fuzz/ (its first line says what it broke): each must now
// compile or fail with located, hole-free diagnostics, finite IR and a
// simulation that agrees with the deadlock proof.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { examineProgram, REPOSITORY_ROOT } from './harness.ts';

const CASES = 'test/cases/fuzz';
const cases = readdirSync(path.join(REPOSITORY_ROOT, CASES)).filter((file) => file.endsWith('.pipe')).sort();

describe('fuzz regressions', () => {
  it('has the cases found so far', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  for (const file of cases) {
    it(file, () => {
      const relative = `${CASES}/${file}`;
      const text = readFileSync(path.join(REPOSITORY_ROOT, relative), 'utf8');
      expect(text.startsWith('// fuzz: ')).toBe(true);
      expect(examineProgram(relative, text).findings).toEqual([]);
    });
  }
});
