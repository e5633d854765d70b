// A character-level corpus from the project's own Markdown docs: windows of
// `seq` characters, target = the next character. Characters map to ids
// that fit the model's vocabulary (ASCII codes when it has 128 or more).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { product, type DataShapes, type Dataset, type ExampleBatch } from './types.ts';

function markdownFiles(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  const files: string[] = [];
  for (const entry of readdirSync(path).sort()) {
    const full = join(path, entry);
    if (statSync(full).isDirectory()) files.push(...markdownFiles(full));
    else if (entry.endsWith('.md')) files.push(full);
  }
  return files;
}

export function charId(code: number, vocab: number): number {
  if (vocab >= 128) return code < 128 ? code : 0;
  // Small vocabularies: printable ASCII from space, everything else to 0.
  const id = code - 31;
  return id > 0 && id < vocab ? id : 0;
}

export function charsDataset(args: Readonly<Record<string, number | string | boolean>>, shapes: DataShapes, baseDirectory: string): Dataset {
  const path = join(baseDirectory, String(args.path ?? 'docs'));
  const seq = Number(args.seq ?? shapes.input.shape[0]);
  if (product(shapes.input.shape) !== seq || product(shapes.target.shape) !== seq) {
    throw new Error(`data chars(seq: ${seq}) gives [${seq}] token windows, but the model takes [${shapes.input.shape.join(', ')}] -> [${shapes.target.shape.join(', ')}]`);
  }
  const files = markdownFiles(path);
  const text = files.map((file) => readFileSync(file, 'utf8')).join('\n');
  if (text.length < 2 * (seq + 1)) throw new Error(`data chars: '${path}' has too little Markdown text (${text.length} characters) for windows of ${seq}`);
  const ids = new Int32Array(text.length);
  for (let i = 0; i < text.length; i++) ids[i] = charId(text.charCodeAt(i), shapes.outputFeatures);
  const windows = Math.floor((text.length - 1) / seq);
  const testSize = Math.max(1, Math.floor(windows * Number(args.holdout_fraction ?? 0.05)));
  const trainSize = windows - testSize;
  const make = (windowIndices: ArrayLike<number>): ExampleBatch => {
    const input = new Int32Array(windowIndices.length * seq);
    const target = new Int32Array(windowIndices.length * seq);
    for (let i = 0; i < windowIndices.length; i++) {
      const start = windowIndices[i] * seq;
      input.set(ids.subarray(start, start + seq), i * seq);
      target.set(ids.subarray(start + 1, start + seq + 1), i * seq);
    }
    return { input, target, count: windowIndices.length };
  };
  return {
    name: 'chars', trainSize, testSize, inputSize: seq, targetSize: seq, inputDtype: 'i32', targetDtype: 'i32',
    trainExamples: make,
    // The held-out windows are the last ones of the corpus.
    testExamples: (start, end) => make(Array.from({ length: end - start }, (_, i) => trainSize + start + i)),
  };
}
