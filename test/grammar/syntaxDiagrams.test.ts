// docs/syntax-diagrams.html opens offline: every script and stylesheet is
// inline, and the committed page is what the live grammar draws today.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { syntaxDiagramsHtml } from '../../scripts/gen-syntax-diagrams.ts';

const committed = readFileSync(new URL('../../docs/syntax-diagrams.html', import.meta.url), 'utf8');

describe('docs/syntax-diagrams.html', () => {
  it('loads nothing from the network', () => {
    expect(committed).not.toMatch(/<(script|link)\b[^>]*\b(src|href)=/i);
    expect(committed).toContain('drawDiagramsFromSerializedGrammar');
    expect(committed).toContain('.railroad-diagram');
  });

  it('is current (regenerate: node scripts/gen-syntax-diagrams.ts)', () => {
    expect(syntaxDiagramsHtml()).toBe(committed);
  });
});
