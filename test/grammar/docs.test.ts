// The examples in docs/language.md are real programs: every ```pipe block
// parses without a syntax error and formats back to the same tree
// (```pipe-fragment marks the few snippets that are not whole files).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, printDocument } from '../../grammar/index.ts';
import { withoutSpans } from './helpers.ts';

const reference = readFileSync(new URL('../../docs/language.md', import.meta.url), 'utf8');
const examples = [...reference.matchAll(/^```pipe\n([\s\S]*?)^```$/gm)].map((match) => match[1]);

describe('docs/language.md examples', () => {
  it('has examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
  });

  examples.forEach((example, index) => {
    const firstLine = example.split('\n').find((line) => line.trim() !== '') ?? '';
    it(`example ${index + 1} (${firstLine.trim().slice(0, 40)}) parses and round-trips`, () => {
      const result = parse({ name: `language.md#${index + 1}`, text: example });
      expect(result.diagnostics.map((d) => d.message)).toEqual([]);
      const printed = printDocument(result.document, { text: example });
      expect(withoutSpans(parse({ name: 'printed', text: printed }).document)).toEqual(withoutSpans(result.document));
    });
  });
});
