// Embedding of integer ids. The input is not differentiable, so I only
// hands the output gradient on to W, which scatters it into the table.
// (No position table: the catalog's Embedding has none, and the runtime
// holds exactly the parameters the compiler counted.)

import * as tf from '@tensorflow/tfjs-core';
import type { BackwardInputResult, ForwardResult, LayerState, ParameterSpec, ParameterStore, RunContext, RuntimeLayer, Tensor } from './types.ts';

interface EmbeddingPending { readonly ids: Tensor; readonly outputGradient: Tensor }

export class EmbeddingLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  private readonly vocab: number;
  private readonly dim: number;

  constructor(name: string, vocab: number, dim: number) {
    this.name = name;
    this.vocab = vocab;
    this.dim = dim;
    this.parameters = [{ name: `${name}/table`, shape: [vocab, dim], init: { kind: 'normal', std: 0.02 } }];
  }

  forward(store: ParameterStore, input: Tensor, _context: RunContext): ForwardResult {
    return tf.tidy(() => {
      const ids = tf.cast(input, 'int32');
      const flat = tf.reshape(ids, [-1]);
      const output = tf.reshape(tf.gather(store.get(`${this.name}/table`), flat), [...input.shape, this.dim]);
      return { output, saved: ids } as unknown as tf.TensorContainer;
    }) as unknown as ForwardResult;
  }

  backwardInput(_store: ParameterStore, saved: LayerState, outputGradient: Tensor, _context: RunContext): BackwardInputResult {
    const pending: EmbeddingPending = { ids: (saved as Tensor).clone(), outputGradient: outputGradient.clone() };
    return { inputGradient: null, pending };
  }

  backwardWeight(store: ParameterStore, state: LayerState, _context: RunContext): void {
    const pending = state as EmbeddingPending;
    const table = tf.tidy(() => {
      const rows = tf.reshape(pending.outputGradient, [-1, this.dim]);
      const ids = tf.reshape(pending.ids, [-1]) as tf.Tensor1D;
      if (tf.getKernel('UnsortedSegmentSum', tf.getBackend())) return tf.unsortedSegmentSum(rows, ids, this.vocab);
      // The wasm backend has no UnsortedSegmentSum: the same sums as one-hot(ids)ᵀ·dY, with the
      // transpose explicit (its matMul is slow with a transpose flag). Each row adds 1·dy terms,
      // so only the order of the additions differs.
      // (oneHot's own float32 output is wrong on wasm 4.22: int32 bits labelled float32; hence the cast.)
      return tf.matMul(tf.transpose(tf.cast(tf.oneHot(ids, this.vocab), 'float32')), rows);
    });
    store.accumulate(`${this.name}/table`, table);
  }
}
