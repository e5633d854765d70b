// The bounded fuzz run of `npm test`: seeded, shrinking mutants of every
// seed program (samples, test cases, the standard library) through parse →
// check → schedule → lower → verify and the simulator. A failure prints the
// smallest mutant fast-check found; keep it as a case under test/cases/fuzz/
// (regressions.test.ts runs them). The long run is `npm run fuzz`.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { run } from '../../runtime/index.ts';
import { applyMutation, examineProgram, mutantArbitrary, mutantText, REPOSITORY_ROOT, seedPrograms, tokensOf } from './harness.ts';

const seeds = seedPrograms();

describe('fuzzing the whole compilation', () => {
  it('has seed programs to mutate, most of which compile', () => {
    expect(seeds.length).toBeGreaterThan(100);
    const valid = seeds.filter((seed) => seed.file.startsWith('samples/')).map((seed) => examineProgram(seed.file, seed.text));
    expect(valid.length).toBeGreaterThanOrEqual(6);
    expect(valid.every((report) => report.valid && report.findings.length === 0)).toBe(true);
  });

  it('mutations change the text token by token', () => {
    const text = 'layer a = Dense(units: 64)';
    expect(tokensOf(text).length).toBe(9);
    expect(applyMutation(text, { kind: 'number', at: 0, value: '1e308' })).toBe('layer a = Dense(units: 1e308)');
    expect(applyMutation(text, { kind: 'nest', at: 7, depth: 2, open: '(' })).toBe('layer a = Dense(units: ((64)))');
    expect(applyMutation(text, { kind: 'delete', at: 3 })).toBe('layer a = (units: 64)');
  });

  it('no mutant breaks a promise: no exception, hole, unlocated diagnostic, non-finite value, invalid IR or stuck simulation', () => {
    let valid = 0;
    fc.assert(
      fc.property(mutantArbitrary(seeds), (mutant) => {
        const report = examineProgram(seeds[mutant.seed].file, mutantText(seeds, mutant));
        if (report.valid) valid++;
        expect(report.findings).toEqual([]);
      }),
      { numRuns: 400, seed: 12_345 },
    );
    // Enough mutants reach the IR and the simulator for the run to mean something there.
    expect(valid).toBeGreaterThan(10);
  });

  it('a valid mutant trains one step on the cpu backend (train --steps 1) with a finite loss', async () => {
    const mlp = seeds.find((seed) => seed.file === 'samples/mlp.pipe')!;
    // The first number of the sample's first layer (units: 256) made smaller: a mutant that still compiles.
    const numberOfFirstLayer = tokensOf(mlp.text).filter((token) => token.number && token.start < mlp.text.indexOf('units:')).length;
    const text = applyMutation(mlp.text, { kind: 'number', at: numberOfFirstLayer, value: '32' });
    expect(text).toContain('units: 32');
    const report = examineProgram(mlp.file, text);
    expect(report.valid).toBe(true);
    const result = await run(report.compilation!.ir!, { steps: 1, backend: 'cpu', baseDirectory: REPOSITORY_ROOT, evalExamples: 16 });
    expect(result.steps).toHaveLength(1);
    expect(Number.isFinite(result.steps[0].loss)).toBe(true);
  });
});
