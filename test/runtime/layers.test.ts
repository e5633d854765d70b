// Each layer's hand-written split backward (I then W) must equal TensorFlow.js
// autodiff of the same layer's forward, for the input and every parameter.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../runtime/backends.ts';
import { buildLayer } from '../../runtime/layers/registry.ts';
import { initialValues, ParameterTable } from '../../runtime/parameters.ts';
import type { ParameterStore, RuntimeLayer, Tensor } from '../../runtime/layers/types.ts';
import { disposeState } from '../../runtime/layers/types.ts';
import { fillNormal } from '../../runtime/random.ts';
import { filterGradientByConvolution } from '../../runtime/layers/conv.ts';
import { isExternLayerDefinition } from '../../runtime/extern.ts';
import swiglu from '../../samples/layers/swiglu.ts';
import type { IrLayer } from '../../compiler/ir/types.ts';
import { lookupLayer, withDefaults } from '../../compiler/layers/catalog.ts';

/** An IR layer as the checker emits it: a built-in kind's arguments with the catalog's defaults filled in. */
function irLayer(operator: string, given: IrLayer['args'], inputShape: number[], outputShape: number[], children: IrLayer[] = [], inputDtype: 'f32' | 'i32' = 'f32'): IrLayer {
  const kind = lookupLayer(operator);
  const args = kind === undefined ? given : withDefaults(kind, given);
  return { name: `test_${operator}`, operator, args, inputShape, outputShape, inputDtype, outputDtype: 'f32', parameters: 0, children };
}

function randomTensor(shape: number[], seed: number): Tensor {
  return tf.tensor(fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), seed, 1), shape);
}

async function checkAgainstAutodiff(layer: RuntimeLayer, input: Tensor, training = true): Promise<number> {
  const params = layer.parameters.map((spec, i) => {
    // Perturb the initial values so ones/zeros initialisations do not hide mistakes.
    const values = initialValues(spec, 11);
    const noise = fillNormal(new Float32Array(values.length), 100 + i, 0.1);
    return tf.tensor(values.map((v, k) => v + noise[k]), spec.shape as number[]);
  });
  const byName = new Map(layer.parameters.map((spec, i) => [spec.name, params[i]]));
  const accumulated = new Map<string, Tensor>();
  const store: ParameterStore = {
    get: (name) => byName.get(name)!,
    accumulate: (name, gradient) => {
      const old = accumulated.get(name);
      accumulated.set(name, old ? tf.add(old, gradient) : gradient);
    },
  };
  const context = { training, step: 3, seed: 5, exampleOffset: 8 };
  const forward = layer.forward(store, input, context);
  const dy = randomTensor(forward.output.shape, 77);
  const split = layer.backwardInput(store, forward.saved, dy, context);
  layer.backwardWeight(store, split.pending, context);

  // Autodiff of the very same forward, w.r.t. the input (when differentiable) and all parameters.
  const differentiableInput = input.dtype === 'float32';
  const fn = (...args: Tensor[]): Tensor => {
    const x = differentiableInput ? args[0] : input;
    const ps = differentiableInput ? args.slice(1) : args;
    const names = layer.parameters.map((spec) => spec.name);
    const local: ParameterStore = { get: (name) => ps[names.indexOf(name)], accumulate: () => {} };
    const result = layer.forward(local, x, context);
    return tf.sum(tf.mul(result.output, dy));
  };
  const grads = tf.grads(fn)(differentiableInput ? [input, ...params] : params);
  let worst = 0;
  const compare = async (actual: Tensor, expected: Tensor): Promise<void> => {
    const a = await actual.data();
    const e = await expected.data();
    let scale = 0;
    let difference = 0;
    for (let i = 0; i < e.length; i++) { scale = Math.max(scale, Math.abs(e[i])); difference = Math.max(difference, Math.abs(a[i] - e[i])); }
    worst = Math.max(worst, difference / Math.max(scale, 1e-6));
  };
  if (differentiableInput) await compare(split.inputGradient!, grads[0]);
  const offset = differentiableInput ? 1 : 0;
  for (let i = 0; i < layer.parameters.length; i++) {
    const gradient = accumulated.get(layer.parameters[i].name);
    expect(gradient, `gradient of ${layer.parameters[i].name}`).toBeDefined();
    await compare(gradient!, grads[i + offset]);
  }
  disposeState([forward, split, grads, params, [...accumulated.values()], dy]);
  return worst;
}

const cases: [string, IrLayer, number[], ('f32' | 'i32')?][] = [
  ['Dense relu', irLayer('Dense', { units: 6, activation: 'relu' }, [5], [6]), [4, 5]],
  ['Dense gelu on a sequence', irLayer('Dense', { units: 6, activation: 'gelu' }, [3, 5], [3, 6]), [2, 3, 5]],
  ['Dense tanh without bias', irLayer('Dense', { units: 6, activation: 'tanh', bias: false }, [5], [6]), [4, 5]],
  ['LayerNorm', irLayer('LayerNorm', {}, [3, 8], [3, 8]), [2, 3, 8]],
  ['MultiHeadAttention causal', irLayer('MultiHeadAttention', { heads: 2, causal: true }, [5, 8], [5, 8]), [2, 5, 8]],
  ['TransformerBlock with dropout', irLayer('TransformerBlock', { heads: 2, ff: 16, causal: true, dropout: 0.2 }, [4, 8], [4, 8]), [3, 4, 8]],
  ['ReLU', irLayer('ReLU', {}, [7], [7]), [3, 7]],
  ['GELU', irLayer('GELU', {}, [7], [7]), [3, 7]],
  ['Tanh', irLayer('Tanh', {}, [7], [7]), [3, 7]],
  ['Softmax', irLayer('Softmax', {}, [7], [7]), [3, 7]],
  ['Dropout', irLayer('Dropout', { rate: 0.3 }, [7], [7]), [3, 7]],
  ['Conv2D valid', irLayer('Conv2D', { filters: 4, kernel: 3, activation: 'relu' }, [7, 7, 2], [5, 5, 4]), [2, 7, 7, 2]],
  ['Conv2D same stride 2', irLayer('Conv2D', { filters: 3, kernel: 3, stride: 2, padding: 'same', activation: 'none' }, [6, 6, 2], [3, 3, 3]), [2, 6, 6, 2]],
  ['MaxPool', irLayer('MaxPool', { size: 2 }, [6, 6, 2], [3, 3, 2]), [2, 6, 6, 2]],
  ['Flatten', irLayer('Flatten', {}, [3, 3, 2], [18]), [2, 3, 3, 2]],
  ['Residual', irLayer('Residual', {}, [6], [6], [irLayer('Dense', { units: 6, activation: 'gelu' }, [6], [6]), irLayer('LayerNorm', {}, [6], [6])]), [3, 6]],
  ['SwiGLU (extern)', irLayer('SwiGLU', { hidden: 10 }, [6], [6]), [3, 6]],
];

// On wasm, Dense and attention multiply by explicit transposes instead of passing transpose flags.
describe('layers on the wasm backend: split backward equals autodiff', () => {
  beforeAll(async () => { await useBackend('wasm'); });
  afterAll(async () => { await useBackend('cpu'); });
  for (const [title, ir, shape] of cases.filter(([name]) => /^Dense|MultiHead|Transformer|Residual/.test(name))) {
    it(title, async () => {
      const layer = buildLayer({ ...ir, children: ir.children.map((c, i) => ({ ...c, name: `${ir.name}_${i}` })) }, new Map());
      const input = randomTensor(shape, 9);
      expect(await checkAgainstAutodiff(layer, input)).toBeLessThan(1e-4);
      input.dispose();
    });
  }
  it('Embedding, whose table gradient wasm (no UnsortedSegmentSum) computes as one-hot(ids)ᵀ·dY', async () => {
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined();
    // Autodiff of gather needs that kernel too, so the reference is summed here: row id of the gradient = Σ dy where ids = id.
    const layer = buildLayer(irLayer('Embedding', { vocab: 11, dim: 4 }, [5], [5, 4], [], 'i32'), new Map());
    const idList = [1, 2, 3, 2, 10, 0, 0, 4, 5, 6];
    const ids = tf.tensor(idList, [2, 5], 'int32');
    const table = randomTensor([11, 4], 3);
    let gradient: Tensor | undefined;
    const store: ParameterStore = { get: () => table, accumulate: (_name, value) => { gradient = value; } };
    const context = { training: true, step: 0, seed: 1, exampleOffset: 0 };
    const forward = layer.forward(store, ids, context);
    const dy = randomTensor([2, 5, 4], 4);
    const split = layer.backwardInput(store, forward.saved, dy, context);
    layer.backwardWeight(store, split.pending, context);
    const dyValues = await dy.data();
    const expected = new Float32Array(11 * 4);
    idList.forEach((id, row) => { for (let d = 0; d < 4; d++) expected[id * 4 + d] += dyValues[row * 4 + d]; });
    const actual = await gradient!.data();
    for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i], 6);
    disposeState([ids, table, forward, dy, split, gradient]);
  });
});

describe('layers: split backward equals autodiff', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  for (const [title, ir, shape] of cases) {
    it(title, async () => {
      expect(isExternLayerDefinition(swiglu)).toBe(true);
      const layer = buildLayer({ ...ir, children: ir.children.map((c, i) => ({ ...c, name: `${ir.name}_${i}` })) }, new Map([['SwiGLU', swiglu]]));
      const input = randomTensor(shape, 9);
      const worst = await checkAgainstAutodiff(layer, input);
      input.dispose();
      expect(worst).toBeLessThan(1e-4);
    });
  }
  it('a ParameterTable keeps one transpose per weight value and drops it when the value changes', async () => {
    const table = new ParameterTable([{ name: 'w', shape: [2, 3], init: { kind: 'normal', std: 1 } }], 4);
    const first = tf.tidy(() => table.transposed('w'));
    expect(first.isDisposed).toBe(false);
    expect(table.transposed('w')).toBe(first);
    expect(first.shape).toEqual([3, 2]);
    expect(Array.from(await first.data())).toEqual(Array.from(await tf.transpose(table.get('w')).data()));
    table.set('w', tf.tensor([[1, 2, 3], [4, 5, 6]]));
    expect(first.isDisposed).toBe(true);
    expect(Array.from(await table.transposed('w').data())).toEqual([1, 4, 2, 5, 3, 6]);
    table.dispose();
  });
  it('an extern layer whose implementation creates other than the declared parameter count stops with PIPE6011', () => {
    // SwiGLU(hidden: 10) on 6 features: gate and up [6, 10], down [10, 6] = 180 parameters.
    const declared = (parameters: number): IrLayer => ({ ...irLayer('SwiGLU', { hidden: 10 }, [6], [6]), parameters, parametersDeclared: true });
    expect(() => buildLayer(declared(180), new Map([['SwiGLU', swiglu]]))).not.toThrow();
    expect(() => buildLayer(declared(120), new Map([['SwiGLU', swiglu]])))
      .toThrow("PIPE6011: layer 'test_SwiGLU' (extern SwiGLU): the cost clause declares parameters: 120, but the implementation creates 180 (gate [6, 10], up [6, 10], down [10, 6])");
    // Without a stated count there is nothing to hold the implementation to.
    expect(() => buildLayer({ ...declared(120), parametersDeclared: undefined }, new Map([['SwiGLU', swiglu]]))).not.toThrow();
  });
  it('Embedding (weight gradient only: ids are not differentiable)', async () => {
    const layer = buildLayer(irLayer('Embedding', { vocab: 11, dim: 4 }, [5], [5, 4], [], 'i32'), new Map());
    const ids = tf.tensor([[1, 2, 3, 2, 10], [0, 0, 4, 5, 6]], [2, 5], 'int32');
    expect(await checkAgainstAutodiff(layer, ids)).toBeLessThan(1e-5);
    ids.dispose();
  });
  it('the Conv2D filter gradient used where a backend lacks Conv2DBackpropFilter equals the kernel', async () => {
    for (const [stride, padding, size] of [[1, 'valid', 7], [2, 'same', 6], [2, 'valid', 7], [1, 'same', 5]] as const) {
      const x = randomTensor([2, size, size, 3], 1) as tf.Tensor4D;
      const outSize = padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - 3) / stride) + 1;
      const dz = randomTensor([2, outSize, outSize, 4], 2) as tf.Tensor4D;
      const expected = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: dz }, { strides: [stride, stride], pad: padding, dataFormat: 'NHWC', filterShape: [3, 3, 3, 4] } as unknown as tf.NamedAttrMap) as Tensor;
      const actual = filterGradientByConvolution(x, dz, 3, stride, padding);
      expect(actual.shape).toEqual([3, 3, 3, 4]);
      const difference = tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0];
      expect(difference).toBeLessThan(1e-4);
      tf.dispose([x, dz, expected, actual]);
    }
  });
  it('dropout masks depend on (seed, layer, step, example), not on how the batch is split', async () => {
    const layer = buildLayer(irLayer('Dropout', { rate: 0.5 }, [16], [16]), new Map());
    const store: ParameterStore = { get: () => { throw new Error('no parameters'); }, accumulate: () => {} };
    const x = tf.ones([4, 16]);
    const whole = layer.forward(store, x, { training: true, step: 1, seed: 2, exampleOffset: 0 });
    const secondHalf = layer.forward(store, tf.ones([2, 16]), { training: true, step: 1, seed: 2, exampleOffset: 2 });
    expect(Array.from(await secondHalf.output.data())).toEqual(Array.from((await whole.output.data()).slice(32)));
    const otherStep = layer.forward(store, x, { training: true, step: 2, seed: 2, exampleOffset: 0 });
    expect(Array.from(await otherStep.output.data())).not.toEqual(Array.from(await whole.output.data()));
  });
});
