// Writes docs/syntax-diagrams.html: railroad diagrams of every grammar rule,
// drawn by chevrotain from the live parser. The page is self-contained:
// chevrotain's diagram renderer and its stylesheet are inlined from
// node_modules, so it opens offline (from a clone, or inside the
// playground, which serves the same file).
// Run: node scripts/gen-syntax-diagrams.ts (test/grammar/cst-types.test.ts checks it is current).

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSyntaxDiagramsCode } from 'chevrotain';
import { grammarProductions } from '../grammar/index.ts';

// A placeholder base the generated tags name, replaced by the files' contents.
const INLINE_BASE = 'inline:chevrotain-diagrams/';

/** The diagrams page, with every script and stylesheet inline (no network). */
export function syntaxDiagramsHtml(): string {
  const diagrams = new URL('../node_modules/chevrotain/diagrams/', import.meta.url);
  const read = (relative: string) => readFileSync(new URL(relative, diagrams), 'utf8');
  const page = createSyntaxDiagramsCode(grammarProductions(), { resourceBase: INLINE_BASE, css: `${INLINE_BASE}diagrams.css` });
  const inlined = page
    .replace(new RegExp(`<link rel='stylesheet' href='${INLINE_BASE}([^']+)'>`, 'g'), (_, file: string) => `<style>\n${read(file)}</style>`)
    // `</script` inside an inline script would end it early.
    .replace(new RegExp(`<script src='${INLINE_BASE}([^']+)'></script>`, 'g'), (_, file: string) => `<script>\n${read(file).replaceAll('</script', '<\\/script')}</script>`);
  if (inlined.includes(INLINE_BASE)) throw new Error('chevrotain changed its diagrams page: a resource was not inlined');
  return inlined.replace('<meta charset="utf-8">', '<meta charset="utf-8">\n<title>pipec syntax diagrams</title>');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = new URL('../docs/syntax-diagrams.html', import.meta.url);
  writeFileSync(target, syntaxDiagramsHtml());
  console.log(`wrote ${target.pathname}`);
}
