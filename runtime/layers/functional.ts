// Parameter-free layers: activations, softmax, flatten, max-pooling and the
// attention core. Their backward-input is the vector-Jacobian product of the
// function (autodiff re-running the cheap forward); they have no W step.

import * as tf from '@tensorflow/tfjs-core';
import { applyActivation, activationGradient, type ActivationName } from './activation.ts';
import { vjp, type BackwardInputResult, type ForwardResult, type LayerState, type ParameterSpec, type ParameterStore, type RunContext, type RuntimeLayer, type Tensor } from './types.ts';

export class FunctionLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[] = [];
  private readonly fn: (x: Tensor) => Tensor;

  constructor(name: string, fn: (x: Tensor) => Tensor) {
    this.name = name;
    this.fn = fn;
  }

  forward(_store: ParameterStore, input: Tensor, _context: RunContext): ForwardResult {
    return { output: tf.tidy(() => this.fn(input)), saved: input.clone() };
  }

  backwardInput(_store: ParameterStore, saved: LayerState, outputGradient: Tensor, _context: RunContext): BackwardInputResult {
    return { inputGradient: tf.tidy(() => vjp(this.fn, saved as Tensor, outputGradient)), pending: null };
  }

  backwardWeight(): void {}
}

/** ReLU / GELU / Tanh as layers, with the closed-form derivative. */
export class ActivationLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[] = [];
  private readonly activation: ActivationName;

  constructor(name: string, activation: ActivationName) {
    this.name = name;
    this.activation = activation;
  }

  // Keeps only what the derivative reads, as the catalog counts it: ReLU and
  // tanh their output (y > 0 exactly where x > 0), GELU its input.
  forward(_store: ParameterStore, input: Tensor, _context: RunContext): ForwardResult {
    const output = tf.tidy(() => applyActivation(this.activation, input));
    return { output, saved: this.activation === 'gelu' ? input.clone() : output.clone() };
  }

  backwardInput(_store: ParameterStore, state: LayerState, outputGradient: Tensor, _context: RunContext): BackwardInputResult {
    const kept = state as Tensor;
    return { inputGradient: activationGradient(this.activation, kept, kept, outputGradient), pending: null };
  }

  backwardWeight(): void {}
}

export class FlattenLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[] = [];
  constructor(name: string) { this.name = name; }

  forward(_store: ParameterStore, input: Tensor, _context: RunContext): ForwardResult {
    return { output: tf.reshape(input, [input.shape[0], -1]), saved: { shape: input.shape } };
  }

  backwardInput(_store: ParameterStore, state: LayerState, outputGradient: Tensor, _context: RunContext): BackwardInputResult {
    return { inputGradient: tf.reshape(outputGradient, (state as { shape: number[] }).shape), pending: null };
  }

  backwardWeight(): void {}
}

export function softmaxLayer(name: string): FunctionLayer {
  return new FunctionLayer(name, (x) => tf.softmax(x));
}

export function maxPoolLayer(name: string, size: number, stride: number): MaxPoolLayer {
  return new MaxPoolLayer(name, size, stride);
}

/**
 * Max pooling (valid windows, NHWC) with its backward written out: the wasm
 * backend's MaxPoolGrad routes gradients wrongly (relative error near 1 at
 * size 2, stride 1, against cpu), and pipec's gradients must not depend on
 * the backend. Each window's gradient goes to its first maximum in row-major
 * order, as TensorFlow's MaxPoolGrad does: offset by offset, the positions
 * equal to the window's maximum that no earlier offset took.
 */
export class MaxPoolLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[] = [];
  private readonly size: number;
  private readonly stride: number;

  constructor(name: string, size: number, stride: number) {
    this.name = name;
    this.size = size;
    this.stride = stride;
  }

  forward(_store: ParameterStore, input: Tensor, _context: RunContext): ForwardResult {
    const output = tf.maxPool(input as tf.Tensor4D, this.size, this.stride, 'valid');
    return { output, saved: { input: input.clone(), output: output.clone() } };
  }

  backwardInput(_store: ParameterStore, state: LayerState, outputGradient: Tensor, _context: RunContext): BackwardInputResult {
    const { input, output } = state as { input: tf.Tensor4D; output: tf.Tensor4D };
    const inputGradient = tf.tidy(() => {
      const [batch, height, width, channels] = input.shape;
      const [, outHeight, outWidth] = output.shape;
      const reachHeight = (outHeight - 1) * this.stride + 1;
      const reachWidth = (outWidth - 1) * this.stride + 1;
      // A 1×1 identity kernel: conv2dTranspose with the pool's stride spreads an
      // [oh, ow] grid onto every stride-th position of [reachHeight, reachWidth].
      const spread = tf.reshape(tf.eye(channels), [1, 1, channels, channels]) as tf.Tensor4D;
      let taken: Tensor = tf.zerosLike(output);
      let gradient: Tensor = tf.zerosLike(input);
      for (let row = 0; row < this.size; row++) {
        for (let column = 0; column < this.size; column++) {
          const atOffset = tf.stridedSlice(input, [0, row, column, 0], [batch, row + reachHeight, column + reachWidth, channels], [1, this.stride, this.stride, 1]);
          const first = tf.mul(tf.cast(tf.equal(atOffset, output), 'float32'), tf.sub(1, taken));
          taken = tf.add(taken, first);
          const routed = tf.mul(first, outputGradient) as tf.Tensor4D;
          const placed = this.stride === 1
            ? routed
            : tf.conv2dTranspose(routed, spread, [batch, reachHeight, reachWidth, channels], this.stride, 'valid');
          gradient = tf.add(gradient, tf.pad(placed, [[0, 0], [row, height - row - reachHeight], [column, width - column - reachWidth], [0, 0]]));
        }
      }
      return gradient;
    });
    return { inputGradient, pending: null };
  }

  backwardWeight(): void {}
}

/**
 * Scaled dot-product attention over a fused [q | k | v] input of shape
 * [batch, seq, 3·dim], output [batch, seq, dim]. Parameter-free: the
 * projections around it are Dense layers, so their I and W stay split.
 */
export function attentionCoreLayer(name: string, heads: number, causal: boolean): FunctionLayer {
  return new FunctionLayer(name, (qkv) => {
    const [batch, seq, width] = qkv.shape;
    const dim = width / 3;
    const headDim = dim / heads;
    // K comes out of its one transpose as [batch, heads, headDim, seq], so Q·Kᵀ is a plain matMul
    // (a transposed operand is about 10× slower on the wasm backend).
    const [q, keysTransposed, v] = tf.split(qkv, 3, 2).map((part, index) =>
      tf.transpose(tf.reshape(part, [batch, seq, heads, headDim]), index === 1 ? [0, 2, 3, 1] : [0, 2, 1, 3]),
    );
    let scores = tf.mul(tf.matMul(q, keysTransposed), 1 / Math.sqrt(headDim));
    if (causal) {
      const mask = tf.linalg.bandPart(tf.ones([seq, seq]), -1, 0);
      scores = tf.add(scores, tf.mul(tf.sub(1, mask), -1e9));
    }
    const weights = tf.softmax(scores);
    const context = tf.matMul(weights, v);
    return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, seq, dim]);
  });
}
