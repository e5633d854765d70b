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

/**
 * The S pass's statistics of a vocabulary shard (`vocab_parallel`): its
 * logits [..., units] cover classes [first, first + units); per row its
 * maximum, its sum of exp(logit − maximum) and its logit of the target (0
 * when the target is another shard's), as a [rows, 3] tensor the shards
 * exchange (runtime/interpreter.ts, send_stats / recv_stats).
 */
export function vocabShardStatistics(logits: Tensor, target: Tensor, first: number): Tensor {
  return tf.tidy(() => {
    const { logits2d, local } = shardRows(logits, target, first);
    const maximum = tf.max(logits2d, 1);
    const sum = tf.sum(tf.exp(tf.sub(logits2d, tf.expandDims(maximum, 1))), 1);
    const targetLogit = tf.sum(tf.mul(logits2d, local), 1);
    return tf.stack([maximum, sum, targetLogit], 1);
  });
}

/**
 * The T pass's loss and logits gradient of a vocabulary shard, from every
 * shard's statistics (its own among them): the global maximum M and sum S
 * of the softmax's denominator, the loss log S + M − (target logit) per row
 * (scaled as computeLoss scales it), the gradient softmax − one-hot on this
 * shard's classes, and the rows whose target is this shard's class and the
 * largest logit of all (so the shards' counts add up to the correct ones).
 */
export function vocabShardLoss(logits: Tensor, target: Tensor, first: number, statistics: readonly Tensor[], scale: number): LossResult {
  return tf.tidy(() => {
    const { logits2d, local, owned } = shardRows(logits, target, first);
    const count = logits2d.shape[0];
    const all = tf.stack(statistics.map((part) => part), 0);
    const [maxima, sums, targetLogits] = tf.unstack(all, 2);
    const maximum = tf.max(maxima, 0);
    const sum = tf.sum(tf.mul(sums, tf.exp(tf.sub(maxima, maximum))), 0);
    const targetLogit = tf.sum(targetLogits, 0);
    const loss = tf.mul(tf.sum(tf.sub(tf.add(tf.log(sum), maximum), targetLogit)), scale / count);
    const probabilities = tf.div(tf.exp(tf.sub(logits2d, tf.expandDims(maximum, 1))), tf.expandDims(sum, 1));
    const gradient2d = tf.mul(tf.sub(probabilities, local), scale / count);
    const gradient = logits.rank === 2 ? gradient2d : tf.reshape(gradient2d, logits.shape);
    const ownTarget = tf.sum(tf.mul(logits2d, local), 1);
    const correct = tf.sum(tf.mul(owned, tf.cast(tf.greaterEqual(ownTarget, maximum), 'float32')));
    return { loss, gradient, correct, count } as unknown as tf.TensorContainer;
  }) as unknown as LossResult;
}

/** Logits as [rows, units], the one-hot of each row's target among this shard's classes (zeros elsewhere), and whether it is this shard's. */
function shardRows(logits: Tensor, target: Tensor, first: number): { logits2d: Tensor; local: Tensor; owned: Tensor } {
  const units = logits.shape[logits.rank - 1];
  const logits2d = logits.rank === 2 ? logits : tf.reshape(logits, [-1, units]);
  const labels = tf.reshape(target.dtype === 'int32' ? target : tf.cast(target, 'int32'), [-1, 1]);
  const classes = tf.expandDims(tf.range(first, first + units, 1, 'int32'), 0);
  const local = tf.cast(tf.equal(labels, classes), 'float32');
  const owned = tf.sum(local, 1);
  return { logits2d, local, owned };
}
