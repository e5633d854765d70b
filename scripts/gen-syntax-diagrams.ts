// Writes docs/syntax-diagrams.html: railroad diagrams of every grammar rule,
// drawn by chevrotain from the live parser (open the file in a browser; it
// loads chevrotain's diagram renderer from unpkg).
// Run: node scripts/gen-syntax-diagrams.ts

import { writeFileSync } from 'node:fs';
import { createSyntaxDiagramsCode } from 'chevrotain';
import { grammarProductions } from '../grammar/index.ts';

const target = new URL('../docs/syntax-diagrams.html', import.meta.url);
writeFileSync(target, createSyntaxDiagramsCode(grammarProductions()));
console.log(`wrote ${target.pathname}`);
