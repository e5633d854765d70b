// Synthetic data with something to learn: inputs drawn from a seed per
// example; targets from a fixed random "teacher" (a linear map for
// classification and regression, a shifted copy for token sequences).

import { fillNormal, fillUniform, hashKey, makeRandom } from '../random.ts';
import { product, type DataShapes, type Dataset, type ExampleBatch } from './types.ts';

export function syntheticDataset(args: Readonly<Record<string, number | string | boolean>>, shapes: DataShapes): Dataset {
  const seed = Number(args.seed ?? 0);
  const size = Number(args.size ?? args.examples ?? 4096);
  const testSize = Number(args.holdout ?? Math.floor(size / 8));
  const inputSize = product(shapes.input.shape);
  const targetSize = product(shapes.target.shape);
  const classes = shapes.outputFeatures;
  const teacher = fillNormal(new Float32Array(inputSize * Math.max(classes, 1)), hashKey(seed, 'teacher'), 1 / Math.sqrt(inputSize));

  const example = (index: number, input: Float32Array | Int32Array, target: Float32Array | Int32Array, at: number): void => {
    const key = hashKey(seed, 'example', index);
    const x = input.subarray(at * inputSize, (at + 1) * inputSize);
    const y = target.subarray(at * targetSize, (at + 1) * targetSize);
    if (shapes.input.dtype === 'i32') {
      const random = makeRandom(key);
      for (let i = 0; i < inputSize; i++) x[i] = Math.floor(random() * classes);
      // Sequence targets: predict the previous token (learnable with causal attention).
      for (let i = 0; i < targetSize; i++) y[i] = x[Math.max(0, i - 1)] ?? 0;
      return;
    }
    fillUniform(x as Float32Array, key, -1, 1);
    const scores = new Float64Array(classes);
    for (let c = 0; c < classes; c++) {
      let sum = 0;
      for (let i = 0; i < inputSize; i++) sum += x[i] * teacher[i * classes + c];
      scores[c] = sum;
    }
    if (shapes.target.dtype === 'i32') {
      let best = 0;
      for (let c = 1; c < classes; c++) if (scores[c] > scores[best]) best = c;
      y.fill(best);
    } else {
      for (let i = 0; i < targetSize; i++) y[i] = Math.tanh(scores[i % classes]);
    }
  };

  const make = (indices: ArrayLike<number>): ExampleBatch => {
    const input = shapes.input.dtype === 'i32' ? new Int32Array(indices.length * inputSize) : new Float32Array(indices.length * inputSize);
    const target = shapes.target.dtype === 'i32' ? new Int32Array(indices.length * targetSize) : new Float32Array(indices.length * targetSize);
    for (let i = 0; i < indices.length; i++) example(indices[i], input, target, i);
    return { input, target, count: indices.length };
  };

  return {
    name: 'synthetic', trainSize: size - testSize, testSize,
    inputSize, targetSize, inputDtype: shapes.input.dtype, targetDtype: shapes.target.dtype,
    trainExamples: (indices) => make(Array.from(indices, (i) => testSize + i)),
    testExamples: (start, end) => make(Array.from({ length: end - start }, (_, i) => start + i)),
  };
}
