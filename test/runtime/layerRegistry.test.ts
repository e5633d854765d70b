// The catalog (compiler/layers/catalog.ts) and the runtime's builders
// (runtime/layers/registry.ts) agree on every layer kind: built from the
// catalog's defaults, and again with each argument changed on its own, the
// runtime layer holds exactly the parameters the catalog counts, produces the
// shape the catalog infers, keeps the activation bytes the catalog counts
// (from F until I, and from I until W), and behaves differently for every changed
// argument (so an argument the runtime ignored or read under another name
// would fail here even where the type checker is not run).

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { IrLayer } from '../../compiler/ir/types.ts';
import {
  argumentsOf, LAYER_KINDS, lookupLayer, lookupMerge, MERGE_KINDS, residualCosts, withDefaults,
  type LayerArguments, type LayerArgumentsOf, type LayerKind,
} from '../../compiler/layers/catalog.ts';
import type { ArgumentValue, LayerCosts, TensorShape } from '../../compiler/program.ts';
import { useBackend } from '../../runtime/backends.ts';
import { buildLayer, buildSequenceChild, isBuiltinOperator, LAYER_BUILDERS } from '../../runtime/layers/registry.ts';
import { collectTensors, disposeState, isMergeLayer, type ParameterStore, type RuntimeLayer } from '../../runtime/layers/types.ts';
import { initialValues } from '../../runtime/parameters.ts';
import { fillNormal } from '../../runtime/random.ts';

/**
 * For every kind, a value other than the example's (defaults applied) for
 * each of its arguments. Typed to list every argument of every kind, and
 * checked below against the catalog's names too.
 */
const VARIANTS: { readonly [K in LayerKind]: LayerArgumentsOf<K> } = {
  Dense: { units: 10, activation: 'tanh', bias: false },
  Embedding: { vocab: 50, dim: 16 },
  LayerNorm: { eps: 0.5 },
  MultiHeadAttention: { heads: 2, causal: false },
  TransformerBlock: { heads: 8, ff: 128, causal: true, dropout: 0.5 },
  ReLU: {},
  GELU: {},
  Tanh: {},
  Softmax: {},
  Dropout: { rate: 0.5 },
  Conv2D: { filters: 4, kernel: 5, stride: 2, padding: 'same', activation: 'relu' },
  MaxPool: { size: 3, stride: 1 },
  Flatten: {},
};

const BATCH = 2;

/** The IR layer lowering emits for a checked layer on a symbolic batch (compiler/lower/compile.ts). */
function irLayerOf(operator: string, args: LayerArguments, input: TensorShape, output: TensorShape, parameters: number, children: IrLayer[] = []): IrLayer {
  const perExample = (shape: TensorShape) => shape.dims.slice(1).map((dim) => dim as number);
  const dtype = (shape: TensorShape) => (shape.dtype === 'i32' ? 'i32' as const : 'f32' as const);
  return {
    name: `t_${operator}`, operator, args,
    inputShape: perExample(input), outputShape: perExample(output),
    inputDtype: dtype(input), outputDtype: dtype(output), parameters, children,
  };
}

interface Built {
  readonly ir: IrLayer;
  readonly costs: LayerCosts;
  readonly output: TensorShape;
}

function checked(kind: LayerKind, given: LayerArguments, input: TensorShape = lookupLayer(kind)!.example.input): Built {
  const definition = lookupLayer(kind)!;
  const args = withDefaults(definition, given);
  const inferred = definition.inferShape(input, args);
  if (!inferred.ok) throw new Error(`${kind}(${JSON.stringify(args)}) rejects its example input: ${inferred.reason}`);
  const costs = definition.costs(input, inferred.shape, args);
  return { ir: irLayerOf(kind, args, input, inferred.shape, costs.parameters), costs, output: inferred.shape };
}

function exampleInput(ir: IrLayer): tf.Tensor {
  const shape = [BATCH, ...ir.inputShape];
  const count = shape.reduce((a, b) => a * b, 1);
  if (ir.inputDtype === 'i32') {
    return tf.tensor(Array.from({ length: count }, (_, i) => (i * 7) % 50), shape, 'int32');
  }
  return tf.tensor(fillNormal(new Float32Array(count), 3, 1), shape);
}

interface Observed {
  readonly parameterCount: number;
  readonly parameterShapes: string;
  readonly outputShape: readonly number[];
  readonly output: Float32Array;
}

/** Runs a training forward with seeded parameters: what the layer holds and what it computes. */
function observe(layer: RuntimeLayer, input: tf.Tensor): Observed {
  const values = new Map(layer.parameters.map((spec) => [spec.name, tf.tensor(initialValues(spec, 7), spec.shape as number[])]));
  const store: ParameterStore = { get: (name) => values.get(name)!, accumulate: (_name, gradient) => gradient.dispose() };
  const result = layer.forward(store, input, { training: true, step: 1, seed: 4, exampleOffset: 0 });
  const observed: Observed = {
    parameterCount: layer.parameters.reduce((total, spec) => total + spec.shape.reduce((a, b) => a * b, 1), 0),
    parameterShapes: layer.parameters.map((spec) => `${spec.name.replace(/^[^/]*/, '')}[${spec.shape.join(',')}]`).join(' '),
    outputShape: result.output.shape,
    output: result.output.dataSync() as Float32Array,
  };
  disposeState([result, [...values.values()]]);
  return observed;
}

function buildAndObserve(built: Built): Observed {
  const input = exampleInput(built.ir);
  const observed = observe(buildLayer(built.ir, new Map()), input);
  input.dispose();
  return observed;
}

function expectAgreement(kind: string, built: Built, observed: Observed): void {
  expect(observed.parameterCount, `${kind}: parameters the runtime creates vs the catalog's cost`).toBe(built.costs.parameters);
  expect(observed.outputShape, `${kind}: output shape vs inferShape`).toEqual([BATCH, ...built.ir.outputShape]);
  expect(observed.output.every(Number.isFinite), `${kind}: finite output`).toBe(true);
}

function differs(a: Observed, b: Observed): boolean {
  if (a.parameterShapes !== b.parameterShapes || a.outputShape.join() !== b.outputShape.join()) return true;
  return a.output.some((value, i) => Math.abs(value - b.output[i]) > 1e-6 * Math.max(1, Math.abs(value)));
}


/** Bytes of the distinct buffers in a layer state (a clone or reshape shares its buffer, as the interpreter counts). */
function stateBytes(state: unknown): number {
  const seen = new Set<unknown>();
  let bytes = 0;
  for (const tensor of collectTensors(state)) {
    if (seen.has(tensor.dataId)) continue;
    seen.add(tensor.dataId);
    bytes += tensor.size * (tensor.dtype === 'bool' ? 1 : 4);
  }
  return bytes;
}

/** What a forward saves and what its backwardInput leaves for W, in bytes, for the catalog's example on BATCH examples. */
function keptBytes(built: Built): { readonly saved: number; readonly pending: number } {
  const layer = buildLayer(built.ir, new Map());
  const values = new Map(layer.parameters.map((spec) => [spec.name, tf.tensor(initialValues(spec, 7), spec.shape as number[])]));
  const store: ParameterStore = { get: (name) => values.get(name)!, accumulate: (_name, gradient) => gradient.dispose() };
  const context = { training: true, step: 1, seed: 4, exampleOffset: 0 };
  const input = exampleInput(built.ir);
  const result = layer.forward(store, input, context);
  // The interpreter drops its own handle on the input after F: what stays is the saved state's.
  const saved = stateBytes(result.saved);
  const gradient = tf.onesLike(result.output);
  const backward = layer.backwardInput(store, result.saved, gradient, context);
  const pending = stateBytes(backward.pending);
  disposeState([input, result, gradient, backward, [...values.values()]]);
  return { saved, pending };
}


describe('the catalog and the runtime registry agree on every layer kind', () => {
  beforeAll(async () => { await useBackend('cpu'); });

  it('the runtime has a builder for every kind the catalog defines (and Residual), and no other', () => {
    expect(Object.keys(LAYER_BUILDERS).sort()).toEqual([...LAYER_KINDS, ...MERGE_KINDS, 'Residual'].sort());
    expect(isBuiltinOperator('Dense') && isBuiltinOperator('Residual') && !isBuiltinOperator('SwiGLU')).toBe(true);
  });

  // A merge kind, built from the catalog's example: the shape it infers, no parameters, and a
  // backward that is the vector-Jacobian product of its forward for both inputs.
  for (const kind of MERGE_KINDS) {
    it(`${kind} (a merge): the catalog's shape and costs, and gradients for the input and the skip`, () => {
      const definition = lookupMerge(kind)!;
      const { input, skip } = definition.example;
      const args = withDefaults(definition, { skip: 'enc', ...definition.example.args });
      const inferred = definition.inferShape(input, skip, args);
      if (!inferred.ok) throw new Error(inferred.reason);
      const costs = definition.costs(input, skip, inferred.shape, args);
      expect([costs.parameters, costs.activationBytes, costs.backwardWeightFlops]).toEqual([0, 0, 0]);
      const ir = irLayerOf(kind, args, input, inferred.shape, 0);
      const layer = buildSequenceChild(ir, new Map());
      if (!isMergeLayer(layer)) throw new Error(`${kind} does not build a merge layer`);
      expect(layer.skip).toBe('enc');
      expect(() => buildLayer(ir, new Map())).toThrow(/runs only inside the sequence/);
      const x = tf.tensor(fillNormal(new Float32Array(BATCH * (input.dims[1] as number)), 1, 1), [BATCH, input.dims[1] as number]);
      const s = tf.tensor(fillNormal(new Float32Array(BATCH * (skip.dims[1] as number)), 2, 1), [BATCH, skip.dims[1] as number]);
      const output = layer.forward(x, s);
      expect(output.shape).toEqual([BATCH, ...ir.outputShape]);
      const g = tf.tensor(fillNormal(new Float32Array(output.size), 3, 1), output.shape);
      const gradients = layer.backward(g);
      const [dx, ds] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(layer.forward(a, b), g)))([x, s]);
      expect(Array.from(gradients.input.dataSync())).toEqual(Array.from(dx.dataSync()));
      expect(Array.from(gradients.skip.dataSync())).toEqual(Array.from(ds.dataSync()));
      disposeState([x, s, output, g, gradients.input, gradients.skip, dx, ds]);
    });
  }

  it('an IR layer that lacks an argument of its kind is refused by name, not built with undefined', () => {
    const { ir } = checked('MaxPool', { size: 2 });
    const { stride: _stride, ...withoutStride } = ir.args;
    expect(() => buildLayer({ ...ir, args: withoutStride }, new Map()))
      .toThrow("layer 't_MaxPool' (MaxPool): the IR lacks its argument 'stride'; the checker writes every argument, so compile the program again");
  });

  it('the variants below name exactly the catalog\'s arguments of every kind', () => {
    for (const kind of LAYER_KINDS) {
      expect(Object.keys(VARIANTS[kind]), kind).toEqual(lookupLayer(kind)!.arguments.map((schema) => schema.name));
    }
  });

  it('every optional argument has a default (or takes another argument\'s value), so the IR carries every argument', () => {
    for (const kind of LAYER_KINDS) {
      const { arguments: schema, example } = lookupLayer(kind)!;
      for (const argument of schema) {
        expect(argument.required || argument.default !== undefined || argument.defaultFrom !== undefined, `${kind}.${argument.name}`).toBe(true);
        if (argument.defaultFrom !== undefined) {
          expect(schema.findIndex((other) => other.name === argument.defaultFrom), `${kind}.${argument.name} defaults to an earlier argument`)
            .toBeLessThan(schema.indexOf(argument));
        }
      }
      expect(Object.keys(withDefaults(lookupLayer(kind)!, example.args)), `${kind}: the example's arguments, filled`).toEqual(schema.map((s) => s.name));
    }
  });

  for (const kind of LAYER_KINDS) {
    describe(kind, () => {
      const { example } = lookupLayer(kind)!;
      it('built from the catalog\'s defaults: the parameters it counts and the shape it infers', () => {
        const built = checked(kind, example.args);
        expectAgreement(kind, built, buildAndObserve(built));
      });
      const variants = Object.entries(VARIANTS[kind]) as [string, ArgumentValue][];
      for (const [name, value] of variants) {
        it(`honours ${name}: ${String(value)}`, () => {
          const base = checked(kind, example.args);
          expect(base.ir.args[name], `${kind}.${name}: the variant must differ from the example's value`).not.toBe(value);
          const changed = checked(kind, { ...base.ir.args, [name]: value });
          const observed = buildAndObserve(changed);
          expectAgreement(`${kind}(${name}: ${String(value)})`, changed, observed);
          expect(differs(observed, buildAndObserve(base)), `${kind}: changing ${name} changes what the runtime layer holds or computes`).toBe(true);
        });
      }
    });
  }

  for (const kind of LAYER_KINDS) {
    it(`${kind}: the runtime keeps the catalog's activation bytes from F until I and its W part from I until W`, () => {
      for (const args of [lookupLayer(kind)!.example.args, VARIANTS[kind] as LayerArguments]) {
        const built = checked(kind, { ...checked(kind, lookupLayer(kind)!.example.args).ir.args, ...args });
        const kept = keptBytes(built);
        expect(kept.saved, `${kind}(${JSON.stringify(built.ir.args)}) saved`).toBe(built.costs.activationBytes * BATCH);
        expect(kept.pending, `${kind}(${JSON.stringify(built.ir.args)}) pending`).toBe((built.costs.weightGradientBytes ?? built.costs.activationBytes) * BATCH);
      }
    });
  }

  // A transformer's layers on [batch, seq, model] (or the token ids before them; exampleInput draws
  // ids below 50), at sizes other than the examples', so a formula that mixes up seq, model and rows fails.
  const SEQUENCE_CASES: readonly { readonly kind: LayerKind; readonly args: LayerArguments; readonly input: TensorShape }[] = [
    { kind: 'Embedding', args: { vocab: 50, dim: 16 }, input: { dtype: 'i32', dims: ['batch', 6] } },
    { kind: 'LayerNorm', args: {}, input: { dtype: 'f32', dims: ['batch', 6, 16] } },
    { kind: 'MultiHeadAttention', args: { heads: 2, causal: true }, input: { dtype: 'f32', dims: ['batch', 6, 16] } },
    { kind: 'TransformerBlock', args: { heads: 2, ff: 24, causal: true, dropout: 0.25 }, input: { dtype: 'f32', dims: ['batch', 6, 16] } },
    { kind: 'Dense', args: { units: 24, activation: 'gelu' }, input: { dtype: 'f32', dims: ['batch', 6, 16] } },
    { kind: 'Dense', args: { units: 24, activation: 'relu', bias: false }, input: { dtype: 'f32', dims: ['batch', 6, 16] } },
    { kind: 'Dropout', args: { rate: 0.25 }, input: { dtype: 'f32', dims: ['batch', 6, 16] } },
  ];
  for (const { kind, args, input } of SEQUENCE_CASES) {
    it(`${kind}(${JSON.stringify(args)}) on ${input.dtype}[${input.dims.join(', ')}]: the catalog's bytes from F until I and from I until W`, () => {
      const built = checked(kind, args, input);
      const kept = keptBytes(built);
      expect(kept.saved, 'saved').toBe(built.costs.activationBytes * BATCH);
      expect(kept.pending, 'pending').toBe((built.costs.weightGradientBytes ?? built.costs.activationBytes) * BATCH);
    });
  }

  it('Residual: the body\'s parameters and the input shape, built from its children', () => {
    const input: TensorShape = { dtype: 'f32', dims: ['batch', 8] };
    const body: readonly { readonly kind: LayerKind; readonly args: LayerArguments }[] = [
      { kind: 'Dense', args: argumentsOf('Dense', { units: 8, activation: 'gelu' }) },
      { kind: 'LayerNorm', args: argumentsOf('LayerNorm', {}) },
    ];
    const children = body.map(({ kind, args }, i) => {
      const definition = lookupLayer(kind)!;
      const shape = definition.inferShape(input, args);
      if (!shape.ok) throw new Error(shape.reason);
      const costs = definition.costs(input, shape.shape, args);
      return { ir: { ...irLayerOf(kind, args, input, shape.shape, costs.parameters), name: `t_body_${i}` }, costs };
    });
    const costs = residualCosts(input, children.map((child) => child.costs));
    const built: Built = { ir: irLayerOf('Residual', {}, input, input, costs.parameters, children.map((c) => c.ir)), costs, output: input };
    const observed = buildAndObserve(built);
    expectAgreement('Residual', built, observed);
    // output = input + body(input): without the body the output would be the input itself.
    expect(differs(observed, { ...observed, output: exampleInput(built.ir).dataSync() as Float32Array })).toBe(true);
  });
});
