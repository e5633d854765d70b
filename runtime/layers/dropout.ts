// Dropout whose mask depends only on (seed, layer, step, example index), so
// microbatching, pipelining and recomputation all see the same mask as a
// single full-batch pass. The stash keeps the mask as a bool tensor, one
// byte per element (what the catalog counts), not an f32 of scaled values:
// multiplying by the 0/1 mask and then by the scale 1 / (1 − rate) gives
// the same bits as multiplying by a mask of scaled values (x·1 and x·0 are
// exact), so the compact mask costs no accuracy.

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

  /** 1 where the element is kept, 0 where it is dropped. */
  private mask(shape: readonly number[], context: RunContext): Tensor {
    const examples = shape[0];
    const perExample = shape.slice(1).reduce((a, b) => a * b, 1);
    const kept = new Uint8Array(examples * perExample);
    for (let example = 0; example < examples; example++) {
      const random = makeRandom(hashKey(context.seed, 'dropout', this.name, context.step, context.exampleOffset + example));
      const base = example * perExample;
      for (let i = 0; i < perExample; i++) kept[base + i] = random() >= this.rate ? 1 : 0;
    }
    return tf.tensor(kept, shape as number[], 'bool');
  }

  /** x · mask / (1 − rate). */
  private apply(tensor: Tensor, mask: Tensor): Tensor {
    return tf.tidy(() => tf.mul(tf.mul(tensor, tf.cast(mask, 'float32')), 1 / (1 - this.rate)));
  }

  forward(_store: ParameterStore, input: Tensor, context: RunContext): ForwardResult {
    if (!context.training || this.rate <= 0) return { output: input.clone(), saved: null };
    const mask = this.mask(input.shape, context);
    return { output: this.apply(input, mask), saved: mask };
  }

  backwardInput(_store: ParameterStore, saved: LayerState, outputGradient: Tensor, _context: RunContext): BackwardInputResult {
    if (saved === null) return { inputGradient: outputGradient.clone(), pending: null };
    return { inputGradient: this.apply(outputGradient, saved as Tensor), pending: null };
  }

  backwardWeight(): void {}
}
