// Never crashes: mutating the samples (deleting, inserting or swapping
// tokens, truncating) must never make the checker throw, and every
// diagnostic must carry a code and a span inside a known source.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { checkProgram } from '../../compiler/check/index.ts';
import { createMemoryHost } from '../../compiler/host.ts';

const samples = readdirSync('samples').filter((file) => file.endsWith('.pipe')).sort()
  .map((file) => ({ file: path.posix.join('samples', file), text: readFileSync(path.join('samples', file), 'utf8') }));
const externFiles = { 'samples/layers/swiglu.ts': readFileSync('samples/layers/swiglu.ts', 'utf8') };

const TOKEN = /\s+|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:e-?\d+)?[A-Za-z/]*|"[^"\n]*"|\.\.|<->|->|<=|>=|==|!=|&&|\|\||./g;
const tokenize = (text: string) => text.match(TOKEN) ?? [];
const INSERTABLE = ['{', '}', '[', ']', '(', ')', ',', ':', '=', '..', '*', '-', '0', '7', '1e-3', '16GiB', 'layer', 'stages', 'auto', 'placement', 'v', 'x', 'batch', 'repeat', 'residual', 'schedule', 'on', 'gpu[0]', '"./x.ts"', 'F', 'B', 'cost', ' '];

type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'insert'; at: number; token: string }
  | { kind: 'swap'; at: number; other: number }
  | { kind: 'truncate'; fraction: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), token: fc.constantFrom(...INSERTABLE) }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
);

function mutate(text: string, mutations: readonly Mutation[]): string {
  let tokens = tokenize(text);
  for (const change of mutations) {
    if (tokens.length === 0) break;
    const at = change.kind === 'truncate' ? 0 : change.at % tokens.length;
    if (change.kind === 'delete') tokens.splice(at, 1);
    else if (change.kind === 'insert') tokens.splice(at, 0, change.token);
    else if (change.kind === 'swap') {
      const other = change.other % tokens.length;
      [tokens[at], tokens[other]] = [tokens[other], tokens[at]];
    } else tokens = tokenize(tokens.join('').slice(0, Math.floor(tokens.join('').length * change.fraction)));
  }
  return tokens.join('');
}

describe('robustness', () => {
  test('mutated samples never make the checker throw, and every span is valid', () => {
    fc.assert(
      fc.property(fc.constantFrom(...samples), fc.array(mutation, { minLength: 1, maxLength: 4 }), (sample, mutations) => {
        const text = mutate(sample.text, mutations);
        const result = checkProgram(sample.file, createMemoryHost({ [sample.file]: text, ...externFiles }));
        for (const diagnostic of result.diagnostics) {
          expect(diagnostic.code).toMatch(/^PIPE\d{4}$/);
          expect(diagnostic.message.length).toBeGreaterThan(0);
          const source = result.sources.get(diagnostic.span.file);
          expect(source, `${diagnostic.code} points into unknown file ${diagnostic.span.file}`).toBeDefined();
          expect(diagnostic.span.start).toBeGreaterThanOrEqual(0);
          expect(diagnostic.span.end).toBeGreaterThanOrEqual(diagnostic.span.start);
          expect(diagnostic.span.end).toBeLessThanOrEqual(source!.length);
          for (const related of diagnostic.related) expect(result.sources.has(related.span.file)).toBe(true);
        }
        if (result.program !== undefined) expect(result.diagnostics.every((d) => d.severity !== 'error')).toBe(true);
      }),
      { numRuns: 300, seed: 20261123 },
    );
  });
});
