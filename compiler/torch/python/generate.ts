// Regenerates compiler/torch/pythonSources.ts from the Python files beside
// this script, so the host-free core can write them into an export:
//   npx node compiler/torch/python/generate.ts
// test/torch/program.test.ts fails when the two disagree.

import { readFileSync, writeFileSync } from 'node:fs';

const read = (file: string): string => readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');
writeFileSync(
  new URL('../pythonSources.ts', import.meta.url),
  '// Generated from compiler/torch/python/*.py by python/generate.ts — do not edit.\n'
    + `export const pipecTorchPy: string = ${JSON.stringify(read('pipec_torch.py'))};\n`
    + `export const trainPy: string = ${JSON.stringify(read('train.py'))};\n`,
);
