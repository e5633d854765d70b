// Dense: y = act(x·W + b) over the last dimension. Backward written out:
// I computes dz = act'(z)·dy and dX = dz·Wᵀ; W computes dW = Xᵀ·dz, db = Σdz.

import * as tf from '@tensorflow/tfjs-core';
import { activationGradient, applyActivation, type ActivationName } from './activation.ts';
import type { BackwardInputResult, ForwardResult, LayerState, ParameterSpec, ParameterStore, RunContext, RuntimeLayer, Tensor } from './types.ts';

interface DenseSaved { readonly input2d: Tensor; readonly preActivation: Tensor | null; readonly output2d: Tensor | null; readonly inputShape: readonly number[] }
interface DensePending { readonly input2d: Tensor; readonly preActivationGradient: Tensor }

export class DenseLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  private readonly inFeatures: number;
  private readonly units: number;
  private readonly activation: ActivationName;
  private readonly bias: boolean;

  constructor(name: string, inFeatures: number, units: number, activation: ActivationName, bias: boolean) {
    this.name = name;
    this.inFeatures = inFeatures;
    this.units = units;
    this.activation = activation;
    this.bias = bias;
    const kernel: ParameterSpec = { name: `${name}/kernel`, shape: [inFeatures, units], init: { kind: 'glorot_uniform', fanIn: inFeatures, fanOut: units } };
    this.parameters = bias ? [kernel, { name: `${name}/bias`, shape: [units], init: { kind: 'zeros' } }] : [kernel];
  }

  forward(store: ParameterStore, input: Tensor, _context: RunContext): ForwardResult {
    return tf.tidy(() => {
      const input2d = tf.reshape(input, [-1, this.inFeatures]);
      let z = tf.matMul(input2d, store.get(`${this.name}/kernel`));
      if (this.bias) z = tf.add(z, store.get(`${this.name}/bias`));
      const y = applyActivation(this.activation, z);
      const outputShape = [...input.shape.slice(0, -1), this.units];
      const saved: DenseSaved = {
        input2d,
        preActivation: this.activation === 'relu' || this.activation === 'gelu' ? z : null,
        output2d: this.activation === 'tanh' ? y : null,
        inputShape: input.shape,
      };
      return { output: tf.reshape(y, outputShape), saved } as unknown as tf.TensorContainer;
    }) as unknown as ForwardResult;
  }

  backwardInput(store: ParameterStore, state: LayerState, outputGradient: Tensor, _context: RunContext, needInputGradient = true): BackwardInputResult {
    const saved = state as DenseSaved;
    return tf.tidy(() => {
      const dy = tf.reshape(outputGradient, [-1, this.units]);
      const dz = this.activation === 'none' ? dy : activationGradient(this.activation, saved.preActivation ?? dy, saved.output2d ?? dy, dy);
      const dx = needInputGradient ? tf.reshape(tf.matMul(dz, store.get(`${this.name}/kernel`), false, true), saved.inputShape as number[]) : null;
      const pending: DensePending = { input2d: saved.input2d.clone(), preActivationGradient: dz.clone() };
      return { inputGradient: dx, pending } as unknown as tf.TensorContainer;
    }) as unknown as BackwardInputResult;
  }

  backwardWeight(store: ParameterStore, state: LayerState, _context: RunContext): void {
    const pending = state as DensePending;
    const grads = tf.tidy(() => {
      const kernel = tf.matMul(pending.input2d, pending.preActivationGradient, true, false);
      return this.bias ? [kernel, tf.sum(pending.preActivationGradient, 0)] : [kernel];
    });
    store.accumulate(`${this.name}/kernel`, grads[0]);
    if (this.bias) store.accumulate(`${this.name}/bias`, grads[1]);
  }
}
