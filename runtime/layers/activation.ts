// Elementwise activations shared by Dense, Conv2D and the standalone layers.

import * as tf from '@tensorflow/tfjs-core';
import type { LayerArgumentsOf } from '../../compiler/ir/types.ts';
import type { Tensor } from './types.ts';

/** The catalog's activation names: a new one does not compile until the switches below handle it. */
export type ActivationName = LayerArgumentsOf<'Dense'>['activation'];

const GELU_SCALE = Math.sqrt(2 / Math.PI);

/** GELU, tanh approximation (as in GPT-2). */
export function gelu(x: Tensor): Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), GELU_SCALE);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

export function applyActivation(name: ActivationName, x: Tensor): Tensor {
  switch (name) {
    case 'relu': return tf.relu(x);
    case 'tanh': return tf.tanh(x);
    case 'gelu': return gelu(x);
    case 'none': return x.clone();
  }
}

/**
 * dL/dz from dL/dy, given the pre-activation z and the activation output y.
 * Written out so the backward-input step never re-runs the layer. For relu
 * the output may stand in for z (relu(z) > 0 exactly where z > 0).
 */
export function activationGradient(name: ActivationName, preActivation: Tensor, output: Tensor, outputGradient: Tensor): Tensor {
  return tf.tidy(() => {
    switch (name) {
      case 'relu': return tf.mul(outputGradient, tf.step(preActivation, 0));
      case 'tanh': return tf.mul(outputGradient, tf.sub(1, tf.square(output)));
      case 'gelu': {
        const z = preActivation;
        const inner = tf.mul(tf.add(z, tf.mul(tf.pow(z, 3), 0.044715)), GELU_SCALE);
        const t = tf.tanh(inner);
        const innerDerivative = tf.mul(tf.add(1, tf.mul(tf.square(z), 3 * 0.044715)), GELU_SCALE);
        const derivative = tf.add(
          tf.mul(0.5, tf.add(1, t)),
          tf.mul(tf.mul(tf.mul(0.5, z), tf.sub(1, tf.square(t))), innerDerivative),
        );
        return tf.mul(outputGradient, derivative);
      }
      case 'none': return outputGradient.clone();
    }
  });
}
