// Conv2D (NHWC). I: dz = act'(z)·dy, dX = conv2dTranspose(dz, W) (TF's
// Conv2DBackpropInput); W: dW = Conv2DBackpropFilter(X, dz), db = Σdz.

import * as tf from '@tensorflow/tfjs-core';
import { activationGradient, applyActivation, type ActivationName } from './activation.ts';
import type { BackwardInputResult, ForwardResult, LayerState, ParameterSpec, ParameterStore, RunContext, RuntimeLayer, Tensor } from './types.ts';

/** The input (for dW and dX's shape) and what the activation's derivative reads: ReLU's and tanh's output, GELU's pre-activation, nothing for none. */
interface ConvSaved { readonly input: Tensor; readonly derivativeInput: Tensor | null }
interface ConvPending { readonly input: Tensor; readonly preActivationGradient: Tensor }

export class Conv2DLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  private readonly kernel: number;
  private readonly stride: number;
  private readonly padding: 'same' | 'valid';
  private readonly activation: ActivationName;
  private readonly filterShape: [number, number, number, number];

  constructor(name: string, inChannels: number, filters: number, kernel: number, stride: number, padding: 'same' | 'valid', activation: ActivationName) {
    this.name = name;
    this.kernel = kernel;
    this.stride = stride;
    this.padding = padding;
    this.activation = activation;
    this.filterShape = [kernel, kernel, inChannels, filters];
    const fanIn = kernel * kernel * inChannels;
    this.parameters = [
      { name: `${name}/kernel`, shape: this.filterShape, init: { kind: 'glorot_uniform', fanIn, fanOut: kernel * kernel * filters } },
      { name: `${name}/bias`, shape: [filters], init: { kind: 'zeros' } },
    ];
  }

  forward(store: ParameterStore, input: Tensor, _context: RunContext): ForwardResult {
    return tf.tidy(() => {
      const z = tf.add(tf.conv2d(input as tf.Tensor4D, store.get(`${this.name}/kernel`) as tf.Tensor4D, this.stride, this.padding), store.get(`${this.name}/bias`));
      const output = applyActivation(this.activation, z);
      const derivativeInput = this.activation === 'none' ? null : this.activation === 'gelu' ? z : output.clone();
      const saved: ConvSaved = { input: input.clone(), derivativeInput };
      return { output, saved } as unknown as tf.TensorContainer;
    }) as unknown as ForwardResult;
  }

  backwardInput(store: ParameterStore, state: LayerState, outputGradient: Tensor, _context: RunContext, needInputGradient = true): BackwardInputResult {
    const saved = state as ConvSaved;
    return tf.tidy(() => {
      const kept = saved.derivativeInput ?? outputGradient;
      const dz = activationGradient(this.activation, kept, kept, outputGradient) as tf.Tensor4D;
      const dx = !needInputGradient ? null : tf.conv2dTranspose(dz, store.get(`${this.name}/kernel`) as tf.Tensor4D, saved.input.shape as [number, number, number, number], this.stride, this.padding);
      return { inputGradient: dx, pending: { input: saved.input.clone(), preActivationGradient: dz } } as unknown as tf.TensorContainer;
    }) as unknown as BackwardInputResult;
  }

  backwardWeight(store: ParameterStore, state: LayerState, _context: RunContext): void {
    const pending = state as ConvPending;
    const [kernel, bias] = tf.tidy(() => {
      // The cpu backend's Conv2DBackpropFilter is a naive loop (110 ms where the convolution form takes 3 on
      // the CNN sample's conv2); wasm has none. Native backends keep their kernel.
      const backend = tf.getBackend();
      const kernelGradient = backend !== 'cpu' && tf.getKernel('Conv2DBackpropFilter', backend)
        ? tf.engine().runKernel('Conv2DBackpropFilter', { x: pending.input, dy: pending.preActivationGradient }, {
          strides: [this.stride, this.stride], pad: this.padding, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: this.filterShape,
        } as unknown as tf.NamedAttrMap) as Tensor
        : filterGradientByConvolution(pending.input as tf.Tensor4D, pending.preActivationGradient as tf.Tensor4D, this.kernel, this.stride, this.padding);
      return [kernelGradient, tf.sum(pending.preActivationGradient, [0, 1, 2])];
    });
    store.accumulate(`${this.name}/kernel`, kernel);
    store.accumulate(`${this.name}/bias`, bias);
  }
}

/**
 * dW of a convolution as a convolution, for backends without a (fast)
 * Conv2DBackpropFilter kernel (cpu, wasm): with batch and channels swapped, the
 * padded input convolved with the output gradient (dilated by the stride)
 * gives dW[kh, kw, ci, co] = Σ x[n, oh·s + kh, ow·s + kw, ci] · dz[n, oh, ow, co].
 */
export function filterGradientByConvolution(input: tf.Tensor4D, outputGradient: tf.Tensor4D, kernel: number, stride: number, padding: 'same' | 'valid'): Tensor {
  return tf.tidy(() => {
    const [, height, width] = input.shape;
    const [, outHeight, outWidth] = outputGradient.shape;
    let padded: tf.Tensor4D = input;
    if (padding === 'same') {
      const padHeight = Math.max((outHeight - 1) * stride + kernel - height, 0);
      const padWidth = Math.max((outWidth - 1) * stride + kernel - width, 0);
      const top = Math.floor(padHeight / 2);
      const left = Math.floor(padWidth / 2);
      padded = tf.pad(input, [[0, 0], [top, padHeight - top], [left, padWidth - left], [0, 0]]);
    }
    const swapped = tf.transpose(padded, [3, 1, 2, 0]) as tf.Tensor4D;
    const filter = tf.transpose(outputGradient, [1, 2, 0, 3]) as tf.Tensor4D;
    const full = tf.conv2d(swapped, filter, 1, 'valid', 'NHWC', stride);
    const cropped = tf.slice(full, [0, 0, 0, 0], [-1, kernel, kernel, -1]);
    return tf.transpose(cropped, [1, 2, 0, 3]);
  });
}
