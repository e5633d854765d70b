// LayerNorm over the last dimension, backward written out:
// dx = rstd·(g - mean(g) - x̂·mean(g·x̂)) with g = dy·γ; dγ = Σ dy·x̂, dβ = Σ dy.

import * as tf from '@tensorflow/tfjs-core';
import type { BackwardInputResult, ForwardResult, LayerState, ParameterSpec, ParameterStore, RunContext, RuntimeLayer, Tensor } from './types.ts';

interface NormSaved { readonly normalized: Tensor; readonly inverseStd: Tensor }
interface NormPending { readonly normalized: Tensor; readonly outputGradient: Tensor }

export class LayerNormLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  private readonly epsilon: number;
  private readonly features: number;

  constructor(name: string, features: number, epsilon: number) {
    this.name = name;
    this.features = features;
    this.epsilon = epsilon;
    this.parameters = [
      { name: `${name}/gamma`, shape: [features], init: { kind: 'ones' } },
      { name: `${name}/beta`, shape: [features], init: { kind: 'zeros' } },
    ];
  }

  forward(store: ParameterStore, input: Tensor, _context: RunContext): ForwardResult {
    return tf.tidy(() => {
      const axis = input.rank - 1;
      const mean = tf.mean(input, axis, true);
      const centered = tf.sub(input, mean);
      const variance = tf.mean(tf.square(centered), axis, true);
      const inverseStd = tf.rsqrt(tf.add(variance, this.epsilon));
      const normalized = tf.mul(centered, inverseStd);
      const output = tf.add(tf.mul(normalized, store.get(`${this.name}/gamma`)), store.get(`${this.name}/beta`));
      return { output, saved: { normalized, inverseStd } } as unknown as tf.TensorContainer;
    }) as unknown as ForwardResult;
  }

  backwardInput(store: ParameterStore, state: LayerState, outputGradient: Tensor, _context: RunContext): BackwardInputResult {
    const saved = state as NormSaved;
    return tf.tidy(() => {
      const axis = outputGradient.rank - 1;
      const g = tf.mul(outputGradient, store.get(`${this.name}/gamma`));
      const meanG = tf.mean(g, axis, true);
      const meanGx = tf.mean(tf.mul(g, saved.normalized), axis, true);
      const dx = tf.mul(saved.inverseStd, tf.sub(tf.sub(g, meanG), tf.mul(saved.normalized, meanGx)));
      const pending: NormPending = { normalized: saved.normalized.clone(), outputGradient: outputGradient.clone() };
      return { inputGradient: dx, pending } as unknown as tf.TensorContainer;
    }) as unknown as BackwardInputResult;
  }

  backwardWeight(store: ParameterStore, state: LayerState, _context: RunContext): void {
    const pending = state as NormPending;
    const [gamma, beta] = tf.tidy(() => {
      const dy = tf.reshape(pending.outputGradient, [-1, this.features]);
      const xhat = tf.reshape(pending.normalized, [-1, this.features]);
      return [tf.sum(tf.mul(dy, xhat), 0), tf.sum(dy, 0)];
    });
    store.accumulate(`${this.name}/gamma`, gamma);
    store.accumulate(`${this.name}/beta`, beta);
  }
}
