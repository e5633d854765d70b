// The examples in README.md and docs/*.md are real programs: every ```pipe
// block checks clean (no error, no warning), as `pipec check` would check it,
// or is marked as meant to fail: ```pipe error (or ```pipe warning), and then
// it does. A document reads top to bottom, so a block sees the models,
// clusters, schedules and extern layers of the clean blocks above it (a
// later declaration of the same name replaces an earlier one), the way
// docs/language.md's pipeline uses its model and cluster examples.
// ```pipe-fragment marks snippets that are not whole files.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileFile, createMemoryHost, makeSource, parse, verifyEveryPipeline, type Diagnostic } from '../../compiler/index.ts';
import { caseOptions } from '../../scripts/gen-diagnostics-doc.ts';

const root = new URL('../../', import.meta.url);
const documents = ['README.md', ...readdirSync(new URL('docs/', root)).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)];
// Files the examples name: the SwiGLU layer of samples/swiglu.pipe.
const library = { 'layers/swiglu.ts': readFileSync(new URL('samples/layers/swiglu.ts', root), 'utf8') };

interface Example {
  readonly line: number;
  readonly text: string;
  readonly expect: 'clean' | 'error' | 'warning';
}

function examplesOf(markdown: string): Example[] {
  return [...markdown.matchAll(/^```pipe(?: (error|warning))?\n([\s\S]*?)^```$/gm)].map((match) => ({
    line: markdown.slice(0, match.index).split('\n').length,
    text: match[2],
    expect: (match[1] as Example['expect'] | undefined) ?? 'clean',
  }));
}

const CONTEXT_KINDS = new Set(['ModelDeclaration', 'ClusterDeclaration', 'ScheduleDeclaration', 'ExternLayerDeclaration']);

/** The declarations a clean block leaves for the blocks below it, by name. */
function declarationsOf(text: string): Map<string, string> {
  const { document } = parse(makeSource('block.pipe', text));
  return new Map(document.declarations
    .filter((declaration) => CONTEXT_KINDS.has(declaration.kind))
    .map((declaration) => [`${declaration.kind} ${declaration.name.name}`, text.slice(declaration.span.start, declaration.span.end)]));
}

function check(example: Example, context: ReadonlyMap<string, string>): readonly Diagnostic[] {
  const own = declarationsOf(example.text);
  const inherited = [...context].filter(([key]) => !own.has(key)).map(([, text]) => text);
  // The context comes in as an import, so the block's own lines keep their numbers but one.
  const entry = inherited.length === 0 ? example.text : `import "above.pipe"\n${example.text}`;
  const host = createMemoryHost({ ...library, 'above.pipe': inherited.join('\n\n'), 'example.pipe': entry });
  // A golden case in docs/diagnostics.md may say `// pipec check --pipeline NAME`.
  return verifyEveryPipeline(compileFile('example.pipe', host, { ...caseOptions(example.text), until: 'check' })).diagnostics;
}

const describeDiagnostic = (d: Diagnostic) => `${d.severity} ${d.code} ${d.span.file}@${d.span.start}: ${d.message}`;

describe.each(documents)('%s', (document) => {
  const examples = examplesOf(readFileSync(new URL(document, root), 'utf8'));
  if (examples.length === 0) {
    it('has no pipe examples', () => expect(examples).toEqual([]));
    return;
  }
  let context = new Map<string, string>();
  const cases = examples.map((example) => {
    const above = context;
    if (example.expect === 'clean') context = new Map([...context, ...declarationsOf(example.text)]);
    return { example, above };
  });
  it.each(cases.map(({ example, above }) => [`line ${example.line}`, example, above] as const))('the example at %s', (_, example, above) => {
    const diagnostics = check(example, above);
    const errors = diagnostics.filter((d) => d.severity === 'error');
    if (example.expect === 'clean') expect(diagnostics.map(describeDiagnostic)).toEqual([]);
    else if (example.expect === 'error') expect(errors.length, 'marked ```pipe error but checks without errors').toBeGreaterThan(0);
    else {
      expect(errors.map(describeDiagnostic)).toEqual([]);
      expect(diagnostics.length, 'marked ```pipe warning but checks clean').toBeGreaterThan(0);
    }
  });
});
