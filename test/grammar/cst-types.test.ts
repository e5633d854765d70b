import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cstTypesSource } from '../../grammar/cstTypes.ts';
import { syntaxDiagramsHtml } from '../../scripts/gen-syntax-diagrams.ts';

describe('files generated from the grammar', () => {
  it('grammar/cst.d.ts matches the grammar (regenerate with: node scripts/gen-cst-types.ts)', () => {
    const committed = readFileSync(new URL('../../grammar/cst.d.ts', import.meta.url), 'utf8');
    expect(committed).toBe(cstTypesSource());
  });

  it('docs/syntax-diagrams.html matches the grammar (regenerate with: node scripts/gen-syntax-diagrams.ts)', () => {
    const committed = readFileSync(new URL('../../docs/syntax-diagrams.html', import.meta.url), 'utf8');
    expect(committed).toBe(syntaxDiagramsHtml());
  });
});
