// Peak memory of `pipec check` on large sources: `node scripts/measure-memory.ts`.
// Each size runs in a fresh process (its maxRSS is its own): a model of
// many Dense layers filling the source up to the size, checked and compiled
// in process. Sizes past the source limit (docs/language.md, Limits) must be
// refused at once; sizes under it must stay far below 1 GB.

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compileFile, createMemoryHost } from '../compiler/index.ts';

/** A program of about `bytes` characters: one model whose layers fill it, two stages on two devices. */
export function largeProgram(bytes: number): string {
  const head = 'model big {\n  input x: f32[batch, 8]\n  target y: i32[batch]\n';
  const tail = [
    '  layer out = Dense(units: 10)',
    '  loss softmax_cross_entropy(out, y)',
    '}',
    'cluster local {',
    '  device gpu[0..2] memory 16GiB speed 100TFLOPS',
    '  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us',
    '}',
    'pipeline train {',
    '  model big',
    '  cluster local',
    '  batch 8 microbatches 4',
    '  stages auto(2)',
    '  schedule 1f1b',
    '  optimizer sgd(lr: 0.1)',
    '}',
    '',
  ].join('\n');
  const layers: string[] = [];
  let length = head.length + tail.length;
  for (let i = 0; length < bytes; i++) {
    const line = `  layer l${i} = Dense(units: 8, activation: relu)\n`;
    layers.push(line);
    length += line.length;
  }
  return head + layers.join('') + tail;
}

function measureOne(bytes: number): void {
  const text = largeProgram(bytes);
  const started = performance.now();
  const compilation = compileFile('big.pipe', createMemoryHost({ 'big.pipe': text }));
  const seconds = (performance.now() - started) / 1000;
  const codes = [...new Set(compilation.diagnostics.map((d) => d.code))].join(',') || 'none';
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ bytes: text.length, seconds, peakRssBytes: peak, diagnostics: codes, reachedIr: compilation.ir !== undefined }));
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain && process.argv[2] === '--one') {
  measureOne(Number(process.argv[3]));
} else if (isMain) {
  const script = fileURLToPath(import.meta.url);
  for (const bytes of [65_536, 262_144, 1_000_000, 1_048_576 + 1, 20_000_000]) {
    const output = execFileSync(process.execPath, [script, '--one', String(bytes)], { encoding: 'utf8' });
    const result = JSON.parse(output) as { bytes: number; seconds: number; peakRssBytes: number; diagnostics: string; reachedIr: boolean };
    console.log(`${String(result.bytes).padStart(9)} characters: peak RSS ${(result.peakRssBytes / 2 ** 20).toFixed(0)} MiB (${(result.peakRssBytes / result.bytes).toFixed(0)} B per character), ${result.seconds.toFixed(2)} s, diagnostics ${result.diagnostics}, IR ${result.reachedIr ? 'yes' : 'no'}`);
  }
}
