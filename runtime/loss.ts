// Losses with their gradient written out. Each microbatch's loss is scaled
// by 1/microbatches, so gradients accumulated over the microbatches of a step
// equal those of one full-batch pass (and replicas then average).

import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from './layers/types.ts';

export interface LossResult {
  /** Scalar, already scaled. */
  readonly loss: Tensor;
  readonly gradient: Tensor;
  /** Correct predictions in the microbatch (classification losses), as a scalar tensor. */
  readonly correct: Tensor | null;
  readonly count: number;
}

export type LossName = 'softmax_cross_entropy' | 'mse';

export function parseLoss(name: string): LossName {
  if (name === 'softmax_cross_entropy' || name === 'sparse_softmax_cross_entropy' || name === 'cross_entropy') return 'softmax_cross_entropy';
  if (name === 'mse' || name === 'mean_squared_error') return 'mse';
  throw new Error(`unknown loss '${name}'`);
}

/**
 * softmax_cross_entropy: logits [..., classes] with integer targets [...]
 * (so [batch] for classification and [batch, seq] for next-token targets).
 * mse: output and target of the same shape.
 */
export function computeLoss(name: LossName, output: Tensor, target: Tensor, scale: number): LossResult {
  return tf.tidy(() => {
    if (name === 'softmax_cross_entropy') {
      // Every reshape, cast and negation is a kernel launch, which at microbatch 8 costs more than
      // the arithmetic: skip the ones that change nothing, and fold the sign into the scale (exact).
      const classes = output.shape[output.rank - 1];
      const logits = output.rank === 2 ? output : tf.reshape(output, [-1, classes]);
      const integerTarget = target.dtype === 'int32' ? target : tf.cast(target, 'int32');
      const labels = integerTarget.rank === 1 ? integerTarget : tf.reshape(integerTarget, [-1]);
      const count = labels.shape[0];
      const logProbabilities = tf.logSoftmax(logits);
      const oneHot = tf.oneHot(labels, classes);
      const loss = tf.mul(tf.sum(tf.mul(oneHot, logProbabilities)), -scale / count);
      const gradient2d = tf.mul(tf.sub(tf.exp(logProbabilities), oneHot), scale / count);
      const gradient = output.rank === 2 ? gradient2d : tf.reshape(gradient2d, output.shape);
      const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'));
      return { loss, gradient, correct, count } as unknown as tf.TensorContainer;
    }
    const difference = tf.sub(output, tf.cast(target, 'float32'));
    const count = difference.size;
    const loss = tf.mul(tf.sum(tf.square(difference)), scale / count);
    const gradient = tf.mul(difference, (2 * scale) / count);
    return { loss, gradient, correct: null, count } as unknown as tf.TensorContainer;
  }) as unknown as LossResult;
}
