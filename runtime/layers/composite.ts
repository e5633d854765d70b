// Layers built from layers: a sequence (used for whole stages, attention and
// transformer blocks, with the skips of its merge layers wired inside it or
// across its boundary), a residual (output = input + body(input)), and the
// merge layers themselves.

import * as tf from '@tensorflow/tfjs-core';
import {
  disposeState, isMergeLayer, type BackwardInputResult, type ForwardResult, type LayerState, type ParameterSpec, type ParameterStore, type RunContext,
  type RuntimeLayer, type RuntimeMergeLayer, type SequenceChild, type Tensor,
} from './types.ts';

/** A forward that also names the source outputs leaving the sequence (to merges in later stages), by source name. */
export interface SequenceForwardResult extends ForwardResult {
  readonly sent: ReadonlyMap<string, Tensor>;
}

/** A backward-input that also names the gradients of skips received from outside, by source name. */
export interface SequenceBackwardResult extends BackwardInputResult {
  readonly skipGradients: ReadonlyMap<string, Tensor>;
}

const NO_SKIPS: ReadonlyMap<string, Tensor> = new Map();

/**
 * Children run in order. A merge child also reads the output of the
 * earlier child its `skip` names, or, when no child has that name, a skip
 * received from outside (a cross-stage edge); the outputs named in
 * `outgoing` leave with the forward's result. In the backward the skip's
 * gradient is added to the gradient of its source's output, or handed out
 * for a received skip.
 */
export class SequenceLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  readonly children: readonly SequenceChild[];
  /** Names of children whose outputs a later merge (here or in another stage) reads. */
  private readonly kept: ReadonlySet<string>;
  private readonly outgoing: readonly string[];

  constructor(name: string, children: readonly SequenceChild[], outgoing: readonly string[] = []) {
    this.name = name;
    this.children = children;
    this.parameters = children.flatMap((child) => child.parameters);
    this.outgoing = outgoing;
    const names = new Set(children.map((child) => child.name));
    for (const source of outgoing) {
      if (!names.has(source)) throw new Error(`sequence '${name}' sends the skip of '${source}', which is not one of its layers`);
    }
    this.kept = new Set([...children.filter(isMergeLayer).map((merge) => merge.skip).filter((source) => names.has(source)), ...outgoing]);
  }

  forward(store: ParameterStore, input: Tensor, context: RunContext): ForwardResult {
    const result = this.forwardWithSkips(store, input, context, NO_SKIPS);
    for (const tensor of result.sent.values()) tensor.dispose();
    return { output: result.output, saved: result.saved };
  }

  /** `received`: skips from outside by source name (the caller keeps them); `sent`: the caller owns them. */
  forwardWithSkips(store: ParameterStore, input: Tensor, context: RunContext, received: ReadonlyMap<string, Tensor>): SequenceForwardResult {
    const saved: LayerState[] = [];
    const outputs = new Map<string, Tensor>();
    let current = input;
    let currentKept = false;
    for (const child of this.children) {
      let output: Tensor;
      if (isMergeLayer(child)) {
        const skip = outputs.get(child.skip) ?? received.get(child.skip);
        if (skip === undefined) throw new Error(`merge '${child.name}' in '${this.name}' has no skip from '${child.skip}' (neither an earlier layer here nor received)`);
        output = child.forward(current, skip);
        saved.push(null);
      } else {
        const result = child.forward(store, current, context);
        output = result.output;
        saved.push(result.saved);
      }
      if (current !== input && !currentKept) current.dispose();
      current = output;
      currentKept = this.kept.has(child.name);
      if (currentKept) outputs.set(child.name, current);
    }
    const sent = new Map<string, Tensor>();
    for (const source of this.outgoing) {
      const kept = outputs.get(source)!;
      // The sequence's own output leaving as a skip too goes out twice, as two
      // messages: two buffers on two devices. A clone would share one buffer in
      // this engine (in-process mode), which a receiving stage holding both
      // would count once; a copy keeps the two apart, as workers hold them.
      sent.set(source, kept === current ? tf.mul(kept, 1) : kept.clone());
    }
    // Kept outputs served their merges (the last layer's output is the result).
    for (const tensor of outputs.values()) if (tensor !== current) tensor.dispose();
    return { output: current === input ? input.clone() : current, saved, sent };
  }

  backwardInput(store: ParameterStore, state: LayerState, outputGradient: Tensor, context: RunContext, needInputGradient = true): BackwardInputResult {
    const result = this.backwardInputWithSkips(store, state, outputGradient, context, needInputGradient, NO_SKIPS);
    for (const tensor of result.skipGradients.values()) tensor.dispose();
    return { inputGradient: result.inputGradient, pending: result.pending };
  }

  /**
   * `returned`: gradients of outgoing skips by source name, from the merges
   * in later stages (the caller keeps them); `skipGradients`: the gradients
   * of received skips, which the caller owns.
   */
  backwardInputWithSkips(
    store: ParameterStore, state: LayerState, outputGradient: Tensor, context: RunContext, needInputGradient: boolean,
    returned: ReadonlyMap<string, Tensor>,
  ): SequenceBackwardResult {
    const saved = state as LayerState[];
    const pending: LayerState[] = new Array(this.children.length).fill(null);
    // Gradients of skips taken by merges here, by source name, summed when several merges read one source.
    const skipGradients = new Map<string, Tensor>();
    let gradient: Tensor | null = outputGradient;
    for (let i = this.children.length - 1; i >= 0; i--) {
      const child = this.children[i];
      if (gradient === null) throw new Error(`layer '${child.name}' follows a non-differentiable output inside '${this.name}'`);
      // The gradient of this child's output also flows back along its skips.
      const extra = [skipGradients.get(child.name), returned.get(child.name)].filter((tensor): tensor is Tensor => tensor !== undefined);
      if (extra.length > 0) {
        const summed: Tensor = tf.addN([gradient, ...extra]);
        if (gradient !== outputGradient) gradient.dispose();
        skipGradients.get(child.name)?.dispose();
        skipGradients.delete(child.name);
        gradient = summed;
      }
      let next: Tensor | null;
      if (isMergeLayer(child)) {
        const parts = child.backward(gradient);
        const earlier = skipGradients.get(child.skip);
        if (earlier === undefined) skipGradients.set(child.skip, parts.skip);
        else {
          skipGradients.set(child.skip, tf.add(earlier, parts.skip));
          earlier.dispose();
          parts.skip.dispose();
        }
        next = parts.input;
      } else {
        const result = child.backwardInput(store, saved[i], gradient, context, i > 0 || needInputGradient);
        pending[i] = result.pending;
        next = result.inputGradient;
      }
      if (gradient !== outputGradient) gradient.dispose();
      gradient = next;
    }
    // What is left are the gradients of skips received from outside this sequence.
    return { inputGradient: gradient === outputGradient ? outputGradient.clone() : gradient, pending, skipGradients };
  }

  backwardWeight(store: ParameterStore, state: LayerState, context: RunContext): void {
    const pending = state as LayerState[];
    for (let i = this.children.length - 1; i >= 0; i--) {
      const child = this.children[i];
      if (!isMergeLayer(child)) child.backwardWeight(store, pending[i], context);
    }
  }
}

/** `Add(skip: s)`: y = x + s; both inputs get the output gradient. */
export class AddLayer implements RuntimeMergeLayer {
  readonly kind = 'merge';
  readonly name: string;
  readonly parameters: readonly ParameterSpec[] = [];
  readonly skip: string;

  constructor(name: string, skip: string) {
    this.name = name;
    this.skip = skip;
  }

  forward(input: Tensor, skip: Tensor): Tensor {
    return tf.add(input, skip);
  }

  backward(outputGradient: Tensor): { input: Tensor; skip: Tensor } {
    return { input: outputGradient.clone(), skip: outputGradient.clone() };
  }
}

/** `Concat(skip: s, axis)`: [x, s] joined on `axis` (batch = 0); the gradient is sliced back. */
export class ConcatLayer implements RuntimeMergeLayer {
  readonly kind = 'merge';
  readonly name: string;
  readonly parameters: readonly ParameterSpec[] = [];
  readonly skip: string;
  private readonly axis: number;
  /** Size of the input along the axis: where the gradient splits. */
  private readonly inputSize: number;
  private readonly skipSize: number;

  /** `inputShape` and `skipShape` are per example (no batch dimension); `axis` counts the batch as 0. */
  constructor(name: string, skip: string, axis: number, inputShape: readonly number[], skipShape: readonly number[]) {
    this.name = name;
    this.skip = skip;
    const rank = inputShape.length + 1;
    this.axis = axis < 0 ? rank + axis : axis;
    this.inputSize = inputShape[this.axis - 1];
    this.skipSize = skipShape[this.axis - 1];
  }

  forward(input: Tensor, skip: Tensor): Tensor {
    return tf.concat([input, skip], this.axis);
  }

  backward(outputGradient: Tensor): { input: Tensor; skip: Tensor } {
    const [input, skip] = tf.split(outputGradient, [this.inputSize, this.skipSize], this.axis);
    return { input, skip };
  }
}

export class ResidualLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  private readonly body: SequenceLayer;

  constructor(name: string, children: readonly SequenceChild[]) {
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
