// A frozen layer (`frozen layer` or a layer of a `frozen` stage): it runs
// forward and passes input gradients back like the layer it wraps, but
// computes no weight gradient, so its parameters never change. What the
// wrapped layer's backward-input keeps for its weight gradient is dropped at
// once: the compiler counts nothing from I to W for a frozen layer
// (compiler/layers/catalog.ts, frozenCosts).

import { disposeState, type BackwardInputResult, type ForwardResult, type LayerState, type ParameterSpec, type ParameterStore, type RunContext, type RuntimeLayer, type Tensor } from './types.ts';

export class FrozenLayer implements RuntimeLayer {
  readonly name: string;
  readonly parameters: readonly ParameterSpec[];
  private readonly inner: RuntimeLayer;

  constructor(inner: RuntimeLayer) {
    this.inner = inner;
    this.name = inner.name;
    this.parameters = inner.parameters.map((spec) => ({ ...spec, frozen: true }));
  }

  forward(store: ParameterStore, input: Tensor, context: RunContext): ForwardResult {
    return this.inner.forward(store, input, context);
  }

  backwardInput(store: ParameterStore, saved: LayerState, outputGradient: Tensor, context: RunContext, needInputGradient = true): BackwardInputResult {
    const result = this.inner.backwardInput(store, saved, outputGradient, context, needInputGradient);
    // The pending state holds its own handles (the layer contract), so dropping it frees only what W would have read.
    disposeState(result.pending);
    return { inputGradient: result.inputGradient, pending: null };
  }

  backwardWeight(_store: ParameterStore, _pending: LayerState, _context: RunContext): void {
    // No weight gradient: the parameters stay as they are.
  }
}
