// Dense: y = act(x·W + b) over the last dimension. Backward written out:
// I computes dz = act'(z)·dy and dX = dz·Wᵀ; W computes dW = Xᵀ·dz, db = Σdz.
// The forward is one fused kernel (matMul + bias + relu) where the activation
// allows it. On the wasm backend the backward multiplies by explicit
// transposes (Wᵀ made once per weight value by the store), because its
// matMul with a transposed operand runs about 10× slower than without; on
// the others the transpose flags are the fast way (the cpu backend's
// transpose costs more than the multiply). See docs/runtime.md.

import * as tf from '@tensorflow/tfjs-core';
import { activationGradient, applyActivation, type ActivationName } from './activation.ts';
import type { BackwardInputResult, ForwardResult, LayerState, ParameterSpec, ParameterStore, RunContext, RuntimeLayer, Tensor } from './types.ts';

/**
 * `activationInput` is what act' is computed from: z for gelu, the output y
 * for relu (y > 0 exactly where z > 0, so the fused kernel's output is enough);
 * `output2d` is y for tanh.
 */
interface DenseSaved { readonly input2d: Tensor; readonly activationInput: Tensor | null; readonly output2d: Tensor | null; readonly inputShape: readonly number[] }
/** What W needs: X, or Xᵀ where the backend wants explicit transposes (made in I, once per microbatch), and dz. */
interface DensePending { readonly input: Tensor; readonly inputIsTransposed: boolean; readonly preActivationGradient: Tensor }

/** The backends whose matMul is slow with a transpose flag (measured; docs/runtime.md). */
function explicitTransposes(): boolean {
  return tf.getBackend() === 'wasm';
}

/** `tensor` as [rows, columns]; the tensor itself when it already is (a reshape is a kernel launch too). */
function as2d(tensor: Tensor, columns: number): Tensor {
  return tensor.rank === 2 ? tensor : tf.reshape(tensor, [-1, columns]);
}

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
      const input2d = as2d(input, this.inFeatures);
      const kernel = store.get(`${this.name}/kernel`);
      const bias = this.bias ? store.get(`${this.name}/bias`) : undefined;
      let y: Tensor;
      let z: Tensor | null = null;
      if (this.activation === 'relu' || this.activation === 'none') {
        y = tf.fused.matMul({ a: input2d, b: kernel, bias, activation: this.activation === 'relu' ? 'relu' : 'linear' });
      } else {
        z = tf.matMul(input2d, kernel);
        if (bias) z = tf.add(z, bias);
        y = applyActivation(this.activation, z);
      }
      const saved: DenseSaved = {
        // The caller keeps and disposes its input: the saved state holds its own handle.
        input2d: input2d === input ? input.clone() : input2d,
        activationInput: this.activation === 'relu' ? y : this.activation === 'gelu' ? z : null,
        output2d: this.activation === 'tanh' ? y : null,
        inputShape: input.shape,
      };
      const output = input.rank === 2 ? (this.activation === 'relu' || this.activation === 'tanh' ? y.clone() : y) : tf.reshape(y, [...input.shape.slice(0, -1), this.units]);
      return { output, saved } as unknown as tf.TensorContainer;
    }) as unknown as ForwardResult;
  }

  backwardInput(store: ParameterStore, state: LayerState, outputGradient: Tensor, _context: RunContext, needInputGradient = true): BackwardInputResult {
    const saved = state as DenseSaved;
    return tf.tidy(() => {
      const dy = as2d(outputGradient, this.units);
      const dz = this.activation === 'none' ? dy : activationGradient(this.activation, saved.activationInput ?? dy, saved.output2d ?? dy, dy);
      const name = `${this.name}/kernel`;
      const explicit = explicitTransposes();
      let dx2d: Tensor | null = null;
      if (needInputGradient) {
        dx2d = explicit ? tf.matMul(dz, store.transposed?.(name) ?? tf.transpose(store.get(name))) : tf.matMul(dz, store.get(name), false, true);
      }
      const dx = dx2d === null || saved.inputShape.length === 2 ? dx2d : tf.reshape(dx2d, saved.inputShape as number[]);
      // The output gradient stays the caller's: pending needs a handle of its own when dz is it.
      const pending: DensePending = {
        input: explicit ? tf.transpose(saved.input2d) : saved.input2d.clone(),
        inputIsTransposed: explicit,
        preActivationGradient: dz === outputGradient ? dz.clone() : dz,
      };
      return { inputGradient: dx, pending } as unknown as tf.TensorContainer;
    }) as unknown as BackwardInputResult;
  }

  backwardWeight(store: ParameterStore, state: LayerState, _context: RunContext): void {
    const pending = state as DensePending;
    const grads = tf.tidy(() => {
      const kernel = pending.inputIsTransposed
        ? tf.matMul(pending.input, pending.preActivationGradient)
        : tf.matMul(pending.input, pending.preActivationGradient, true, false);
      return this.bias ? [kernel, tf.sum(pending.preActivationGradient, 0)] : [kernel];
    });
    store.accumulate(`${this.name}/kernel`, grads[0]);
    if (this.bias) store.accumulate(`${this.name}/bias`, grads[1]);
  }
}
