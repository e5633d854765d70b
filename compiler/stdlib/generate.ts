// Regenerates compiler/stdlib/text.ts from schedules.pipe, so the core reads
// the standard library without a file system:
//   npx node compiler/stdlib/generate.ts
// test/schedule/stdlib.test.ts fails when the two disagree.

import { readFileSync, writeFileSync } from 'node:fs';

const source = readFileSync(new URL('./schedules.pipe', import.meta.url), 'utf8');
writeFileSync(
  new URL('./text.ts', import.meta.url),
  `// Generated from schedules.pipe by generate.ts — do not edit.\nexport const schedulesText: string = ${JSON.stringify(source)};\n`,
);
