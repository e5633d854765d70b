// Dropout whose mask depends only on (seed, layer, step, example index), so
// microbatching, pipelining and recomputation all see the same mask as a
// single full-batch pass.

import * as tf from '@tensorflow/tfjs-core';
import { hashKey, makeRandom } from '../random.ts';
import type { BackwardInputResult, ForwardResult, LayerState, ParameterSpec, ParameterStore, RunContext, RuntimeLayer, Tensor } from './types.ts';

export class DropoutLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[] = [];
  private readonly rate: number;

  constructor(name: string, rate: number) {
    this.name = name;
    this.rate = rate;
  }

  private mask(shape: readonly number[], context: RunContext): Tensor {
    const examples = shape[0];
    const perExample = shape.slice(1).reduce((a, b) => a * b, 1);
    const values = new Float32Array(examples * perExample);
    const keep = 1 / (1 - this.rate);
    for (let example = 0; example < examples; example++) {
      const random = makeRandom(hashKey(context.seed, 'dropout', this.name, context.step, context.exampleOffset + example));
      const base = example * perExample;
      for (let i = 0; i < perExample; i++) values[base + i] = random() >= this.rate ? keep : 0;
    }
    return tf.tensor(values, shape as number[], 'float32');
  }

  forward(_store: ParameterStore, input: Tensor, context: RunContext): ForwardResult {
    if (!context.training || this.rate <= 0) return { output: input.clone(), saved: null };
    const mask = this.mask(input.shape, context);
    return { output: tf.mul(input, mask), saved: mask };
  }

  backwardInput(_store: ParameterStore, saved: LayerState, outputGradient: Tensor, _context: RunContext): BackwardInputResult {
    if (saved === null) return { inputGradient: outputGradient.clone(), pending: null };
    return { inputGradient: tf.mul(outputGradient, saved as Tensor), pending: null };
  }

  backwardWeight(): void {}
}
