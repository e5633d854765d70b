// docs/layers.md, the layer reference, is generated from the catalog
// (scripts/gen-layers-doc.ts) and must be up to date; it documents every kind
// and every argument.

import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { LAYER_KINDS, lookupLayer } from '../../compiler/layers/catalog.ts';
import { DOC_PATH, generateLayersDoc } from '../../scripts/gen-layers-doc.ts';

describe('docs/layers.md', () => {
  test('is up to date (regenerate with: npm run docs:layers)', () => {
    expect(readFileSync(DOC_PATH, 'utf8')).toBe(generateLayersDoc());
  });

  test('has a section for every layer kind, with a row for each of its arguments', () => {
    const doc = generateLayersDoc();
    for (const kind of LAYER_KINDS) {
      const section = doc.split(`\n## ${kind}\n`)[1]?.split('\n## ')[0];
      expect(section, kind).toBeDefined();
      for (const argument of lookupLayer(kind)!.arguments) expect(section, `${kind}.${argument.name}`).toContain(`| \`${argument.name}\` | ${argument.type} |`);
      expect(section).toContain('Shape: ');
      expect(section).toContain('| Activation bytes |');
    }
  });

  test('docs/language.md links to it', () => {
    expect(readFileSync('docs/language.md', 'utf8')).toContain('(layers.md)');
  });
});
