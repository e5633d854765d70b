// Property: whatever is done to a real program — tokens deleted, inserted or
// swapped, the text cut short, junk typed in — parse never throws, every
// diagnostic lies within the text, and the (partial) tree can still be
// walked and printed.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, printDocument, visit } from '../../grammar/index.ts';
import { pipeLexer } from '../../grammar/lexer.ts';
import { samplePrograms, testPrograms, withoutSpans } from './helpers.ts';

interface Piece {
  readonly start: number;
  readonly end: number;
}

const programs = [...testPrograms(), ...samplePrograms()];
const tokenPieces = programs.map((program) =>
  pipeLexer.tokenize(program.text).tokens.map((t): Piece => ({ start: t.startOffset, end: t.startOffset + t.image.length })),
);
const vocabulary = [
  ...new Set(programs.flatMap((program) => pipeLexer.tokenize(program.text).tokens.map((t) => t.image))),
  '{', '}', '(', ')', '[', ']', '..', '<->', '"', '/*', '//', '\n', '@', '-', '1e', '0.', 'F[', 'é', '\u0000',
];

type Mutation =
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'insert'; readonly at: number; readonly text: string }
  | { readonly kind: 'swap'; readonly at: number; readonly other: number }
  | { readonly kind: 'truncate'; readonly fraction: number }
  | { readonly kind: 'junk'; readonly fraction: number; readonly text: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...vocabulary) }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('junk' as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }), text: fc.string({ maxLength: 6 }) }),
);

function piecesOf(text: string): Piece[] {
  return pipeLexer.tokenize(text).tokens.map((t) => ({ start: t.startOffset, end: t.startOffset + t.image.length }));
}

function apply(text: string, change: Mutation): string {
  if (change.kind === 'truncate') return text.slice(0, Math.floor(change.fraction * text.length));
  if (change.kind === 'junk') {
    const at = Math.floor(change.fraction * text.length);
    return text.slice(0, at) + change.text + text.slice(at);
  }
  const pieces = piecesOf(text);
  if (pieces.length === 0) return change.kind === 'insert' ? change.text : text;
  const piece = pieces[change.at % pieces.length];
  if (change.kind === 'delete') return text.slice(0, piece.start) + text.slice(piece.end);
  if (change.kind === 'insert') return `${text.slice(0, piece.start)}${change.text} ${text.slice(piece.start)}`;
  const other = pieces[change.other % pieces.length];
  const [a, b] = piece.start <= other.start ? [piece, other] : [other, piece];
  if (a.start === b.start) return text;
  return text.slice(0, a.start) + text.slice(b.start, b.end) + text.slice(a.end, b.start) + text.slice(a.start, a.end) + text.slice(b.end);
}

describe('parse never throws on mutated programs', () => {
  it('has programs to mutate', () => {
    expect(programs.length).toBeGreaterThanOrEqual(4);
    expect(tokenPieces.every((pieces) => pieces.length > 0)).toBe(true);
  });

  it('every diagnostic and node span lies within the text', () => {
    fc.assert(
      fc.property(fc.nat({ max: programs.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (index, changes) => {
        const program = programs[index];
        const text = changes.reduce(apply, program.text);
        const result = parse({ name: program.name, text });
        for (const diagnostic of result.diagnostics) {
          expect(diagnostic.span.file).toBe(program.name);
          expect(diagnostic.span.start).toBeGreaterThanOrEqual(0);
          expect(diagnostic.span.start).toBeLessThanOrEqual(diagnostic.span.end);
          expect(diagnostic.span.end).toBeLessThanOrEqual(text.length);
          expect(diagnostic.code).toMatch(/^PIPE1\d{3}$/);
          expect(diagnostic.message).not.toMatch(/^\{|undefined|NaN/);
        }
        visit(result.document, {
          enter(node) {
            expect(Number.isInteger(node.span.start) && Number.isInteger(node.span.end)).toBe(true);
            expect(node.span.start).toBeGreaterThanOrEqual(0);
            expect(node.span.start).toBeLessThanOrEqual(node.span.end);
            expect(node.span.end).toBeLessThanOrEqual(text.length);
          },
        });
        expect(typeof printDocument(result.document, { text })).toBe('string');
      }),
      { numRuns: 400 },
    );
  });

  it('a changed program that still parses cleanly still round-trips through the printer', () => {
    fc.assert(
      fc.property(fc.nat({ max: programs.length - 1 }), mutation, (index, change) => {
        const text = apply(programs[index].text, change);
        const first = parse({ name: 'm.pipe', text });
        fc.pre(first.diagnostics.length === 0);
        const printed = printDocument(first.document, { text });
        const second = parse({ name: 'm.pipe', text: printed });
        expect(second.diagnostics).toEqual([]);
        expect(withoutSpans(second.document)).toEqual(withoutSpans(first.document));
        expect(printDocument(second.document, { text: printed })).toBe(printed);
      }),
      { numRuns: 200 },
    );
  });
});
