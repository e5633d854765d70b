// Layers built from layers: a sequence (used for whole stages, attention and
// transformer blocks) and a residual (output = input + body(input)).

import * as tf from '@tensorflow/tfjs-core';
import { disposeState, type BackwardInputResult, type ForwardResult, type LayerState, type ParameterSpec, type ParameterStore, type RunContext, type RuntimeLayer, type Tensor } from './types.ts';

export class SequenceLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  readonly children: readonly RuntimeLayer[];

  constructor(name: string, children: readonly RuntimeLayer[]) {
    this.name = name;
    this.children = children;
    this.parameters = children.flatMap((child) => child.parameters);
  }

  forward(store: ParameterStore, input: Tensor, context: RunContext): ForwardResult {
    const saved: LayerState[] = [];
    let current = input;
    for (const child of this.children) {
      const result = child.forward(store, current, context);
      if (current !== input) current.dispose();
      saved.push(result.saved);
      current = result.output;
    }
    return { output: current === input ? input.clone() : current, saved };
  }

  backwardInput(store: ParameterStore, state: LayerState, outputGradient: Tensor, context: RunContext, needInputGradient = true): BackwardInputResult {
    const saved = state as LayerState[];
    const pending: LayerState[] = new Array(this.children.length).fill(null);
    let gradient: Tensor | null = outputGradient;
    for (let i = this.children.length - 1; i >= 0; i--) {
      if (gradient === null) throw new Error(`layer '${this.children[i].name}' follows a non-differentiable output inside '${this.name}'`);
      const result = this.children[i].backwardInput(store, saved[i], gradient, context, i > 0 || needInputGradient);
      if (gradient !== outputGradient) gradient.dispose();
      pending[i] = result.pending;
      gradient = result.inputGradient;
    }
    return { inputGradient: gradient === outputGradient ? outputGradient.clone() : gradient, pending };
  }

  backwardWeight(store: ParameterStore, state: LayerState, context: RunContext): void {
    const pending = state as LayerState[];
    for (let i = this.children.length - 1; i >= 0; i--) this.children[i].backwardWeight(store, pending[i], context);
  }
}

export class ResidualLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  private readonly body: SequenceLayer;

  constructor(name: string, children: readonly RuntimeLayer[]) {
    this.name = name;
    this.body = new SequenceLayer(name, children);
    this.parameters = this.body.parameters;
  }

  forward(store: ParameterStore, input: Tensor, context: RunContext): ForwardResult {
    const body = this.body.forward(store, input, context);
    const output = tf.add(input, body.output);
    body.output.dispose();
    return { output, saved: body.saved };
  }

  backwardInput(store: ParameterStore, saved: LayerState, outputGradient: Tensor, context: RunContext): BackwardInputResult {
    const body = this.body.backwardInput(store, saved, outputGradient, context);
    if (body.inputGradient === null) return { inputGradient: outputGradient.clone(), pending: body.pending };
    const inputGradient = tf.add(outputGradient, body.inputGradient);
    body.inputGradient.dispose();
    return { inputGradient, pending: body.pending };
  }

  backwardWeight(store: ParameterStore, pending: LayerState, context: RunContext): void {
    this.body.backwardWeight(store, pending, context);
  }
}

export { disposeState };
