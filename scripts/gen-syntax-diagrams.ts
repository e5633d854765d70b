// Writes docs/syntax-diagrams.html: railroad diagrams of every grammar rule,
// drawn by chevrotain from the live parser (open the file in a browser; it
// loads chevrotain's diagram renderer from unpkg).
// Run: node scripts/gen-syntax-diagrams.ts

import { writeFileSync } from 'node:fs';
import { createSyntaxDiagramsCode } from 'chevrotain';
import { pipeParser } from '../grammar/parser.ts';

const target = new URL('../docs/syntax-diagrams.html', import.meta.url);
writeFileSync(target, createSyntaxDiagramsCode(pipeParser.getSerializedGastProductions()));
console.log(`wrote ${target.pathname}`);
