// Every "did you mean" is also data: the diagnostic carries the edit its
// hint proposes (what an editor's quick fix applies). On every golden case,
// applying a diagnostic's suggestion must write the name the hint names and
// make that diagnostic go away.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { compileFile, createMemoryHost, verifyEveryPipeline, type Diagnostic } from '../../compiler/index.ts';
import { toJsonDiagnostics } from '../../grammar/index.ts';
import { CASES_DIRECTORY, caseOptions } from '../../scripts/gen-diagnostics-doc.ts';
import { checkLikeCli } from '../helpers/compileFiles.ts';

const DID_YOU_MEAN = /did you mean '([^']+)'\?/;

function suggestedCases(): { file: string; text: string; diagnostics: readonly Diagnostic[] }[] {
  return readdirSync(CASES_DIRECTORY)
    .filter((file) => file.endsWith('.pipe'))
    .sort()
    .map((file) => {
      const relative = path.normalize(path.join(CASES_DIRECTORY, file));
      const text = readFileSync(relative, 'utf8');
      return { file: relative, text, diagnostics: checkLikeCli(relative, caseOptions(text)).diagnostics };
    })
    .filter(({ diagnostics }) => diagnostics.some((d) => DID_YOU_MEAN.test(d.hint ?? '')));
}

describe('did-you-mean suggestions', () => {
  const cases = suggestedCases();

  test('enough golden cases carry one to mean something', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  test('the JSON output carries the suggestion for tools, located like the diagnostic', () => {
    const { text, diagnostics } = cases.find(({ diagnostics }) => diagnostics.some((d) => d.code === 'PIPE2003'))!;
    const file = diagnostics[0].span.file;
    const [json] = toJsonDiagnostics(diagnostics.filter((d) => d.code === 'PIPE2003'), new Map([[file, text]]));
    expect(json.suggestion).toEqual({ file, line: json.line, column: json.column, endLine: json.endLine, endColumn: json.endColumn, replacement: expect.any(String) });
    expect(json.hint).toContain(`'${json.suggestion!.replacement}'`);
  });

  for (const { file, text, diagnostics } of cases) {
    test(path.basename(file), () => {
      // A name given on the command line (`--pipeline trian`) is not in the text: nothing to replace.
      const written = diagnostics.filter((d) => DID_YOU_MEAN.test(d.hint ?? '') && d.span.file === file && d.span.end > d.span.start);
      for (const diagnostic of written) {
        const named = DID_YOU_MEAN.exec(diagnostic.hint!)![1];
        const suggestion = diagnostic.suggestion;
        expect(suggestion, `${diagnostic.code} ${diagnostic.message}`).toBeDefined();
        expect(suggestion!.replacement).toContain(named);
        expect(suggestion!.span.start).toBeGreaterThanOrEqual(diagnostic.span.start);
        expect(suggestion!.span.end).toBeLessThanOrEqual(diagnostic.span.end);
        const fixed = text.slice(0, suggestion!.span.start) + suggestion!.replacement + text.slice(suggestion!.span.end);
        const after = verifyEveryPipeline(compileFile(file, createMemoryHost({ [file]: fixed }), { ...caseOptions(text), until: 'check' })).diagnostics;
        const same = after.filter((d) => d.code === diagnostic.code && d.span.start === diagnostic.span.start && d.message === diagnostic.message);
        expect(same, `${diagnostic.code} still reported after writing '${suggestion!.replacement}'`).toEqual([]);
      }
    });
  }
});
