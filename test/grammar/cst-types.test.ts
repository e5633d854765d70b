import { readFileSync } from 'node:fs';
import { createSyntaxDiagramsCode } from 'chevrotain';
import { describe, expect, it } from 'vitest';
import { cstTypesSource } from '../../grammar/cstTypes.ts';
import { pipeParser } from '../../grammar/parser.ts';

describe('files generated from the grammar', () => {
  it('grammar/cst.d.ts matches the grammar (regenerate with: node scripts/gen-cst-types.ts)', () => {
    const committed = readFileSync(new URL('../../grammar/cst.d.ts', import.meta.url), 'utf8');
    expect(committed).toBe(cstTypesSource());
  });

  it('docs/syntax-diagrams.html matches the grammar (regenerate with: node scripts/gen-syntax-diagrams.ts)', () => {
    const committed = readFileSync(new URL('../../docs/syntax-diagrams.html', import.meta.url), 'utf8');
    expect(committed).toBe(createSyntaxDiagramsCode(pipeParser.getSerializedGastProductions()));
  });
});
