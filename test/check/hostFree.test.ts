// The checker runs without Node: nothing it imports, transitively, touches
// node:* modules or ts-morph (which loads node:fs). The Node edge
// (cli/loadProgram.ts) adds the file system and the TypeScript reader.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  // Only value imports load code; `import type` is erased.
  return [...text.matchAll(/^import\s+(?!type\s)[^'"]*?from\s+'([^']+)'/gm), ...text.matchAll(/^import\s+'([^']+)'/gm)].map((m) => m[1]);
}

test('compiler/check/index.ts and everything it imports are free of Node APIs', () => {
  const seen = new Set<string>();
  const offenders: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const specifier of importsOf(file)) {
      if (specifier.startsWith('.')) visit(path.normalize(path.join(path.dirname(file), specifier)));
      else if (specifier.startsWith('node:') || specifier === 'ts-morph' || specifier === 'fs' || specifier === 'path') offenders.push(`${file} imports ${specifier}`);
    }
  };
  visit('compiler/check/index.ts');
  expect(offenders).toEqual([]);
  expect(seen.size).toBeGreaterThan(10);
});
