// Compiles the transformer sample and a wider variant to IR files for
// bench/gpu.ts, which runs where only a bundle travels.
//   node bench/gpuPrepare.ts OUT_DIR [samples/gpt.pipe]

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadAndCheck } from '../cli/loadProgram.ts';
import { compileProgram } from '../compiler/lower/compile.ts';
import type { CompilerHost } from '../compiler/host.ts';
import type { IrProgram } from '../compiler/ir/types.ts';

const out = process.argv[2] ?? '.gpu/ir';
const sample = readFileSync(process.argv[3] ?? 'samples/gpt.pipe', 'utf8');

function compileSource(text: string): IrProgram {
  const file = '/bench/gpt.pipe';
  const host: CompilerHost = { readFile: (name) => (name === file ? text : undefined), resolveImport: (_f, s) => s };
  const loaded = loadAndCheck(file, { host });
  if (loaded.kind !== 'checked' || !loaded.program) throw new Error(`does not check: ${loaded.kind === 'checked' ? loaded.diagnostics.map((d) => d.message).join('; ') : loaded.message}`);
  const compiled = compileProgram(loaded.program);
  if (!compiled.ir) throw new Error(`does not compile: ${compiled.diagnostics.map((d) => d.message).join('; ')}`);
  return compiled.ir;
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
