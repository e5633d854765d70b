// The module shape of a user layer declared in a .pipe program with
//   extern layer SwiGLU(hidden: int) : [batch, d] -> [batch, d] from "./swiglu.ts"
// The module's default export is `defineLayer({...})`. The runtime derives the
// backward parts by TensorFlow.js autodiff, split: the I step differentiates
// with respect to the input only (parameters held constant), the W step with
// respect to the parameters only, so split-backward schedules stay split.

import * as tf from '@tensorflow/tfjs-core';
import { vjp, type BackwardInputResult, type ForwardResult, type Initializer, type LayerState, type ParameterSpec, type ParameterStore, type RunContext, type RuntimeLayer, type Tensor } from './layers/types.ts';
import { RuntimeFault } from './messages.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';

export type TensorFlow = typeof tf;

export type ExternInit = 'zeros' | 'ones' | 'glorot' | 'normal';

export interface ExternParameter {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: ExternInit;
}

export type ExternArgs = Readonly<Record<string, number | string | boolean>>;

export interface ExternLayerDefinition<Args extends object = ExternArgs> {
  readonly name: string;
  /** Parameters for the given arguments and per-example input shape (batch dim excluded). */
  parameters(args: Args, inputShape: readonly number[]): readonly ExternParameter[];
  /** Pure function of its inputs; `x` carries the batch dim first. */
  forward(tfjs: TensorFlow, params: Readonly<Record<string, Tensor>>, x: Tensor, args: Args, training: boolean): Tensor;
}

const EXTERN_BRAND = Symbol.for('pipec.externLayer');

export function defineLayer<Args extends object = ExternArgs>(definition: ExternLayerDefinition<Args>): ExternLayerDefinition {
  // The runtime passes the checked arguments of the declaration, so Args holds by construction.
  return Object.assign(Object.create(null), definition, { [EXTERN_BRAND]: true }) as ExternLayerDefinition;
}

export function isExternLayerDefinition(value: unknown): value is ExternLayerDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[EXTERN_BRAND] === true;
}

function toInitializer(init: ExternInit, shape: readonly number[]): Initializer {
  const fanIn = shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : shape[0] ?? 1;
  const fanOut = shape[shape.length - 1] ?? 1;
  switch (init) {
    case 'zeros': return { kind: 'zeros' };
    case 'ones': return { kind: 'ones' };
    case 'normal': return { kind: 'normal', std: 0.02 };
    case 'glorot': return { kind: 'glorot_uniform', fanIn, fanOut };
  }
}

export class ExternLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  private readonly definition: ExternLayerDefinition;
  private readonly args: ExternArgs;
  private readonly localNames: readonly string[];

  /** `declaredParameters`: the count the .pipe cost clause states, which the compiler planned memory with. */
  constructor(name: string, definition: ExternLayerDefinition, args: ExternArgs, inputShape: readonly number[], declaredParameters?: number) {
    this.name = name;
    this.definition = definition;
    this.args = args;
    const declared = definition.parameters(args, inputShape);
    const created = declared.reduce((sum, p) => sum + p.shape.reduce((product, size) => product * size, 1), 0);
    if (declaredParameters !== undefined && created !== declaredParameters) {
      const shapes = declared.map((p) => `${p.name} [${p.shape.join(', ')}]`).join(', ') || 'none';
      throw new RuntimeFault(diagnosticMessages.externLayer,
        `layer '${name}' (extern ${definition.name}): the cost clause declares parameters: ${declaredParameters}, but the implementation creates ${created} (${shapes}); `
        + 'correct the cost clause, which the memory check and simulator rely on');
    }
    this.localNames = declared.map((p) => p.name);
    this.parameters = declared.map((p) => ({ name: `${name}/${p.name}`, shape: p.shape, init: toInitializer(p.init, p.shape) }));
  }

  private params(store: ParameterStore, override?: readonly Tensor[]): Record<string, Tensor> {
    const params: Record<string, Tensor> = {};
    this.localNames.forEach((local, i) => { params[local] = override ? override[i] : store.get(`${this.name}/${local}`); });
    return params;
  }

  forward(store: ParameterStore, input: Tensor, context: RunContext): ForwardResult {
    const output = tf.tidy(() => this.definition.forward(tf, this.params(store), input, this.args, context.training));
    return { output, saved: input.clone() };
  }

  backwardInput(store: ParameterStore, saved: LayerState, outputGradient: Tensor, context: RunContext): BackwardInputResult {
    const input = saved as Tensor;
    const inputGradient = tf.tidy(() => vjp((x) => this.definition.forward(tf, this.params(store), x, this.args, context.training), input, outputGradient));
    return { inputGradient, pending: { input: input.clone(), outputGradient: outputGradient.clone() } };
  }

  backwardWeight(store: ParameterStore, state: LayerState, context: RunContext): void {
    const pending = state as { input: Tensor; outputGradient: Tensor };
    if (this.localNames.length === 0) return;
    const current = this.localNames.map((local) => store.get(`${this.name}/${local}`));
    const grads = tf.tidy(() =>
      tf.grads((...params: Tensor[]) => this.definition.forward(tf, this.params(store, params), pending.input, this.args, context.training))(current, pending.outputGradient),
    );
    this.localNames.forEach((local, i) => store.accumulate(`${this.name}/${local}`, grads[i]));
  }
}
