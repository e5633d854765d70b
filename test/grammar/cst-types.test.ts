import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cstTypesSource } from '../../grammar/cstTypes.ts';

describe('generated CST types', () => {
  it('grammar/cst.d.ts matches the grammar (regenerate with: node scripts/gen-cst-types.ts)', () => {
    const committed = readFileSync(new URL('../../grammar/cst.d.ts', import.meta.url), 'utf8');
    expect(committed).toBe(cstTypesSource());
  });
});
