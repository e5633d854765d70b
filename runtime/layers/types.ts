// The runtime's layer contract: every layer runs forward, backward-input
// (the gradient w.r.t. its input, keeping what the weight gradient needs)
// and backward-weight as separate calls, so a split-backward schedule (I and
// W at different times) really splits the work.

import * as tf from '@tensorflow/tfjs-core';
// Autodiff (vjp below, extern layers) needs core's gradient registrations, which its Node entry leaves out.
import '../vendor/tfjs-gradients.mjs';

export type Tensor = tf.Tensor;

export type Initializer =
  | { readonly kind: 'zeros' }
  | { readonly kind: 'ones' }
  | { readonly kind: 'glorot_uniform'; readonly fanIn: number; readonly fanOut: number }
  | { readonly kind: 'he_normal'; readonly fanIn: number }
  | { readonly kind: 'normal'; readonly std: number };

export interface ParameterSpec {
  /** Qualified name, e.g. `blocks[0]/attention/qkv/kernel`; it alone (with the seed) decides the initial values. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: Initializer;
  /** A frozen layer's parameter: it gets no gradient, takes no optimizer step and joins no all-reduce. */
  readonly frozen?: boolean;
}

/** Where a layer reads its parameters and deposits its weight gradients. */
export interface ParameterStore {
  get(name: string): Tensor;
  /**
   * The transpose of `name`'s current value, made once per value and owned
   * by the store (never dispose it). TensorFlow.js's wasm backend runs a
   * matMul with a transposed operand about 10× slower than one without
   * (its XNNPACK path takes neither flag), so backward passes multiply by an
   * explicit transpose; a store that does not cache leaves it undefined.
   */
  transposed?(name: string): Tensor;
  /** Adds to the gradient accumulator of `name`; takes ownership of `gradient`. */
  accumulate(name: string, gradient: Tensor): void;
}

export interface RunContext {
  readonly training: boolean;
  /** Optimizer step number: dropout masks depend on it. */
  readonly step: number;
  readonly seed: number;
  /** Index, within the step's global batch, of this microbatch's first example. */
  readonly exampleOffset: number;
}

/**
 * State a layer keeps between its calls. Any nesting of tensors in arrays and
 * plain objects; the owner disposes it with disposeState.
 */
export type LayerState = unknown;

export interface ForwardResult {
  readonly output: Tensor;
  readonly saved: LayerState;
}

export interface BackwardInputResult {
  /** Null when the input is not differentiable (integer token ids). */
  readonly inputGradient: Tensor | null;
  /** What backwardWeight needs (typically the layer input and the output-side gradient). */
  readonly pending: LayerState;
}

export interface RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  /** Per-example output shape for a per-example input shape. */
  forward(store: ParameterStore, input: Tensor, context: RunContext): ForwardResult;
  /**
   * Does not compute weight gradients; disposes nothing it was given. With
   * `needInputGradient` false (the model's first layer) a layer may skip dX
   * and return null.
   */
  backwardInput(store: ParameterStore, saved: LayerState, outputGradient: Tensor, context: RunContext, needInputGradient?: boolean): BackwardInputResult;
  backwardWeight(store: ParameterStore, pending: LayerState, context: RunContext): void;
}

/**
 * A merge layer (Add, Concat): a second input, the output of the earlier
 * layer `skip` names, wired by the sequence that holds both (or, across
 * stages, by the interpreter through the skip edge's messages). It keeps
 * nothing: its backward hands the output gradient to both inputs.
 */
export interface RuntimeMergeLayer {
  readonly kind: 'merge';
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  /** The display name of the layer whose output is the second input. */
  readonly skip: string;
  forward(input: Tensor, skip: Tensor): Tensor;
  /** The gradients of the input and of the skip; disposes nothing it was given. */
  backward(outputGradient: Tensor): { readonly input: Tensor; readonly skip: Tensor };
}

/** What a sequence (a stage, a residual body) is made of. */
export type SequenceChild = RuntimeLayer | RuntimeMergeLayer;

export function isMergeLayer(layer: SequenceChild): layer is RuntimeMergeLayer {
  return (layer as Partial<RuntimeMergeLayer>).kind === 'merge';
}

export function collectTensors(state: LayerState, into: Tensor[] = []): Tensor[] {
  if (state instanceof tf.Tensor) into.push(state);
  else if (Array.isArray(state)) for (const item of state) collectTensors(item, into);
  else if (state !== null && typeof state === 'object') for (const value of Object.values(state)) collectTensors(value, into);
  return into;
}

export function disposeState(state: LayerState): void {
  for (const tensor of collectTensors(state)) if (!tensor.isDisposed) tensor.dispose();
}

/** Vector-Jacobian product of a parameter-free function (recomputes its forward under the tape). */
export function vjp(fn: (x: Tensor) => Tensor, input: Tensor, outputGradient: Tensor): Tensor {
  return tf.grad(fn)(input, outputGradient);
}
