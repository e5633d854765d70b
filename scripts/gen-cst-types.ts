// Regenerates grammar/cst.d.ts from the parser's grammar, so the CST visitor
// in grammar/toAst.ts is typed against the rules as they really are.
// Run: node scripts/gen-cst-types.ts   (test/grammar/cst-types.test.ts checks the file is current)

import { writeFileSync } from 'node:fs';
import { cstTypesSource } from '../grammar/index.ts';

const target = new URL('../grammar/cst.d.ts', import.meta.url);
writeFileSync(target, cstTypesSource());
console.log(`wrote ${target.pathname}`);
