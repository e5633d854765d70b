// docs/syntax-diagrams.html opens offline: every script and stylesheet is
// inline (test/grammar/cst-types.test.ts checks it is current).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const committed = readFileSync(new URL('../../docs/syntax-diagrams.html', import.meta.url), 'utf8');

describe('docs/syntax-diagrams.html', () => {
  it('loads nothing from the network', () => {
    expect(committed).not.toMatch(/<(script|link)\b[^>]*\b(src|href)=/i);
    expect(committed).toContain('drawDiagramsFromSerializedGrammar');
    expect(committed).toContain('.railroad-diagram');
  });
});
