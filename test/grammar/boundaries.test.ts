// grammar/ is the bottom of the one-way flow and must run where there is no
// Node (a browser, an editor): it imports only its own files, chevrotain, and
// the two browser-safe packages the diagnostics renderer uses.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const grammarDirectory = new URL('../../grammar/', import.meta.url);
const allowedPackages = new Set(['chevrotain', '@chevrotain/cst-dts-gen', '@babel/code-frame', 'picocolors']);

function importsOf(source: string): string[] {
  return [...source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((match) => match[1]);
}

describe('grammar/ boundaries', () => {
  const files = readdirSync(grammarDirectory).filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));

  it('has files to look at', () => {
    expect(files).toContain('index.ts');
    expect(importsOf(readFileSync(new URL('index.ts', grammarDirectory), 'utf8'))).toContain('./parser.ts');
  });

  for (const file of files) {
    it(`${file} imports only grammar/ files and allowed packages`, () => {
      const outside = importsOf(readFileSync(new URL(file, grammarDirectory), 'utf8')).filter(
        (specifier) => !(specifier.startsWith('./') && !specifier.includes('/..')) && !allowedPackages.has(specifier),
      );
      expect(outside).toEqual([]);
    });
  }
});
