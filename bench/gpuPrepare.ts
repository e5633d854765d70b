// Compiles the transformer sample and a wider variant to IR files for
// bench/gpu.ts, which runs where only a bundle travels.
//   node bench/gpuPrepare.ts OUT_DIR [samples/gpt.pipe]

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { compileFile, createMemoryHost, succeeded, type IrProgram } from '../compiler/index.ts';

const out = process.argv[2] ?? '.gpu/ir';
const sample = readFileSync(process.argv[3] ?? 'samples/gpt.pipe', 'utf8');

function compileSource(text: string): IrProgram {
  const compiled = compileFile('/bench/program.pipe', createMemoryHost({ '/bench/program.pipe': text }));
  if (!succeeded(compiled)) throw new Error(`bench program does not compile: ${compiled.diagnostics.map((d) => d.message).join('; ')}${compiled.stop?.message ?? ''}`);
  return compiled.ir!;
}

const variants = [
  { name: 'gpt sample (d=64, 4 blocks, seq 32, batch 32, m=8)', file: 'gpt.ir.json', cpuSteps: 10, text: sample },
  {
    name: 'gpt wide (d=256, 8 heads, ff 1024, 4 blocks, seq 32, batch 64, m=8)', file: 'gpt-wide.ir.json', cpuSteps: 2,
    text: sample.replace('Embedding(vocab: 96, dim: 64)', 'Embedding(vocab: 96, dim: 256)')
      .replace(/TransformerBlock\(heads: 4, ff: 256/g, 'TransformerBlock(heads: 8, ff: 1024')
      .replace('batch 32 microbatches 8', 'batch 64 microbatches 8'),
  },
];
mkdirSync(out, { recursive: true });
for (const variant of variants) writeFileSync(`${out}/${variant.file}`, JSON.stringify(compileSource(variant.text)));
writeFileSync(`${out}/index.json`, JSON.stringify(variants.map(({ name, file, cpuSteps }) => ({ name, file, cpuSteps }))));
process.stdout.write(`wrote ${variants.length} IR files to ${out}\n`);
