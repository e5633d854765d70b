// Shared helpers for the grammar tests.

import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Document } from '../../grammar/ast.ts';
import type { Diagnostic } from '../../grammar/diagnostic.ts';
import { parse } from '../../grammar/index.ts';
import { LineMap } from '../../grammar/source.ts';

/** The AST with every `span` removed, for comparing trees parsed from different text. */
export function withoutSpans(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, field: unknown) => (key === 'span' ? undefined : field)));
}

/** Parses text that must be free of syntax errors. */
export function parseClean(text: string, name = 'test.pipe'): Document {
  const result = parse({ name, text });
  expect(result.diagnostics.map((d) => d.message)).toEqual([]);
  return result.document;
}

/** `line:col CODE message` for each diagnostic, as a reader would see it. */
export function located(text: string, diagnostics: readonly Diagnostic[]): string[] {
  const lines = new LineMap(text);
  return diagnostics.map((d) => {
    const { line, column } = lines.locate(d.span.start);
    return `${line}:${column} ${d.code} ${d.message}`;
  });
}

export interface ProgramFile {
  readonly name: string;
  readonly text: string;
}

function pipeFilesIn(directory: URL, label: string): ProgramFile[] {
  let names: string[];
  try {
    names = readdirSync(directory).filter((n) => n.endsWith('.pipe')).sort();
  } catch {
    return [];
  }
  return names.map((n) => ({ name: `${label}/${n}`, text: readFileSync(new URL(n, directory), 'utf8') }));
}

/** The grammar test programs. */
export function testPrograms(): ProgramFile[] {
  return pipeFilesIn(new URL('./programs/', import.meta.url), 'test/grammar/programs');
}

/**
 * Every samples/*.pipe and the standard library's .pipe sources, read at test
 * time (they are written by other parts of the project).
 */
export function samplePrograms(): ProgramFile[] {
  return [
    ...pipeFilesIn(new URL('../../samples/', import.meta.url), 'samples'),
    ...pipeFilesIn(new URL('../../stdlib/', import.meta.url), 'stdlib'),
    ...pipeFilesIn(new URL('../../compiler/stdlib/', import.meta.url), 'compiler/stdlib'),
  ];
}
