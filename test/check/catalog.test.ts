// The layer catalog: shape rules (with symbolic dims) and per-example costs,
// checked against hand-computed values.

import { describe, expect, test } from 'vitest';
import { formatShape, LAYER_CATALOG, LAYER_KINDS, lookupLayer, residualCosts, withDefaults } from '../../compiler/layers/catalog.ts';
import type { TensorShape } from '../../compiler/program.ts';
import { writtenCall } from '../../scripts/gen-layers-doc.ts';
import { check } from './helpers.ts';

const f32 = (...dims: (number | string)[]): TensorShape => ({ dtype: 'f32', dims });
const i32 = (...dims: (number | string)[]): TensorShape => ({ dtype: 'i32', dims });

function run(name: string, input: TensorShape, args: Record<string, number | string | boolean>) {
  const definition = lookupLayer(name)!;
  const filled = withDefaults(definition, args);
  const shape = definition.inferShape(input, filled);
  if (!shape.ok) return { shape };
  return { shape, costs: definition.costs(input, shape.shape, filled) };
}

describe('layer catalog', () => {
  test('has every operator the language promises', () => {
    expect([...LAYER_CATALOG.keys()].sort()).toEqual([
      'Conv2D', 'Dense', 'Dropout', 'Embedding', 'Flatten', 'GELU', 'LayerNorm', 'MaxPool', 'MultiHeadAttention',
      'ReLU', 'Softmax', 'Tanh', 'TransformerBlock',
    ]);
  });

  test('Dense maps the last dimension and keeps the symbolic batch', () => {
    const { shape, costs } = run('Dense', f32('batch', 784), { units: 256, activation: 'relu' });
    expect(shape.ok && formatShape(shape.shape)).toBe('f32[batch, 256]');
    expect(costs!.parameters).toBe(784 * 256 + 256);
    expect(costs!.forwardFlops).toBe(2 * 784 * 256 + 256 + 256); // matmul, bias, relu
    expect(costs!.backwardInputFlops).toBe(2 * 784 * 256 + 256);
    expect(costs!.backwardWeightFlops).toBe(2 * 784 * 256 + 256);
    expect(costs!.activationBytes).toBe(4 * 784 + 4 * 256); // input + pre-activation output
    expect(costs!.outputBytes).toBe(4 * 256);
  });

  test('Dense without bias or activation keeps only its input', () => {
    const { costs } = run('Dense', f32('batch', 32, 64), { units: 10, bias: false });
    expect(costs!.parameters).toBe(640);
    expect(costs!.forwardFlops).toBe(2 * 32 * 64 * 10);
    expect(costs!.activationBytes).toBe(4 * 32 * 64);
  });

  test('Dense rejects integer input and symbolic features', () => {
    expect(run('Dense', i32('batch', 784), { units: 4 }).shape).toMatchObject({ ok: false, reason: 'Dense needs a floating-point input' });
    expect(run('Dense', f32('batch', 'seq'), { units: 4 }).shape).toMatchObject({ ok: false });
  });

  test('Embedding turns token ids into vectors', () => {
    const { shape, costs } = run('Embedding', i32('batch', 32), { vocab: 96, dim: 64 });
    expect(shape.ok && formatShape(shape.shape)).toBe('f32[batch, 32, 64]');
    expect(costs!.parameters).toBe(96 * 64);
    expect(costs!.backwardInputFlops).toBe(0);
    expect(run('Embedding', f32('batch', 32), { vocab: 96, dim: 64 }).shape.ok).toBe(false);
  });

  test('attention needs a model size divisible by the heads', () => {
    const ok = run('MultiHeadAttention', f32('batch', 16, 64), { heads: 4 });
    expect(ok.costs!.parameters).toBe(4 * 64 * 64 + 4 * 64);
    expect(ok.costs!.forwardFlops).toBe(8 * 16 * 64 * 64 + 4 * 16 * 16 * 64 + 5 * 4 * 16 * 16);
    const bad = run('MultiHeadAttention', f32('batch', 16, 64), { heads: 3 });
    expect(bad.shape).toMatchObject({ ok: false, reason: 'MultiHeadAttention: the model size 64 is not divisible by 3 heads' });
  });

  test('TransformerBlock keeps the shape and counts two norms, attention and the MLP', () => {
    const { shape, costs } = run('TransformerBlock', f32('batch', 32, 64), { heads: 4, ff: 256 });
    expect(shape.ok && formatShape(shape.shape)).toBe('f32[batch, 32, 64]');
    const d = 64;
    const ff = 256;
    expect(costs!.parameters).toBe(4 * d + (4 * d * d + 4 * d) + (d * ff + ff + ff * d + d));
  });

  test('Conv2D and MaxPool follow the NHWC arithmetic', () => {
    const conv = run('Conv2D', f32('batch', 28, 28, 1), { filters: 8, kernel: 3, activation: 'relu' });
    expect(conv.shape.ok && formatShape(conv.shape.shape)).toBe('f32[batch, 26, 26, 8]');
    expect(conv.costs!.parameters).toBe(3 * 3 * 1 * 8 + 8);
    const same = run('Conv2D', f32('batch', 28, 28, 1), { filters: 8, kernel: 3, stride: 2, padding: 'same' });
    expect(same.shape.ok && formatShape(same.shape.shape)).toBe('f32[batch, 14, 14, 8]');
    const pool = run('MaxPool', f32('batch', 26, 26, 8), { size: 2 });
    expect(pool.shape.ok && formatShape(pool.shape.shape)).toBe('f32[batch, 13, 13, 8]');
    expect(run('Conv2D', f32('batch', 2, 2, 1), { filters: 1, kernel: 3 }).shape.ok).toBe(false);
    expect(run('Conv2D', f32('batch', 784), { filters: 1, kernel: 3 }).shape).toMatchObject({ ok: false, expected: 'f32[batch, height, width, channels]' });
  });

  test('Flatten multiplies the non-batch dims and refuses symbolic ones', () => {
    const { shape, costs } = run('Flatten', f32('batch', 5, 5, 16), {});
    expect(shape.ok && formatShape(shape.shape)).toBe('f32[batch, 400]');
    expect(costs!.forwardFlops).toBe(0);
    expect(run('Flatten', f32('batch', 'seq', 4), {}).shape.ok).toBe(false);
  });

  test('elementwise layers keep shapes and cost per element', () => {
    for (const name of ['ReLU', 'GELU', 'Tanh', 'Softmax', 'Dropout']) {
      const { shape, costs } = run(name, f32('batch', 10), name === 'Dropout' ? { rate: 0.1 } : {});
      expect(shape.ok && formatShape(shape.shape)).toBe('f32[batch, 10]');
      expect(costs!.parameters).toBe(0);
      expect(costs!.forwardFlops).toBeGreaterThan(0);
    }
  });

  test('a residual block adds one elementwise add to its body', () => {
    const body = run('Dense', f32('batch', 8), { units: 8 }).costs!;
    const costs = residualCosts(f32('batch', 8), [body, body]);
    expect(costs.parameters).toBe(2 * body.parameters);
    expect(costs.forwardFlops).toBe(2 * body.forwardFlops + 8);
  });

  test('defaults fill in arguments the user left out', () => {
    expect(withDefaults(lookupLayer('Conv2D')!, { filters: 4, kernel: 3 })).toEqual({
      filters: 4, kernel: 3, stride: 1, padding: 'valid', activation: 'none',
    });
  });

  test("an argument may default to another's value: MaxPool's stride is its size", () => {
    expect(withDefaults(lookupLayer('MaxPool')!, { size: 3 })).toEqual({ size: 3, stride: 3 });
    expect(withDefaults(lookupLayer('MaxPool')!, { size: 3, stride: 1 })).toEqual({ size: 3, stride: 1 });
  });
});

describe('every kind, written as the reference writes it, checks with every argument filled in', () => {
  for (const kind of LAYER_KINDS) {
    test(kind, () => {
      const definition = lookupLayer(kind)!;
      const { input, args } = definition.example;
      const filled = withDefaults(definition, args);
      const output = definition.inferShape(input, filled);
      if (!output.ok) throw new Error(output.reason);
      const result = check(`model m {
  input x: ${formatShape(input)}
  target y: ${formatShape(output.shape)}
  layer l = ${writtenCall(definition, args)}
  loss mse(l, y)
}

cluster c {
  device gpu[0..1] memory 16GiB speed 100TFLOPS
}

pipeline p {
  model m
  cluster c
  batch 8 microbatches 2
  stages {
    s0 on gpu[0] = l
  }
  schedule gpipe
  optimizer sgd(lr: 0.1)
}
`);
      expect(result.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toEqual([]);
      const [layer] = result.program!.model.layers;
      expect(Object.keys(layer.args)).toEqual(definition.arguments.map((schema) => schema.name));
      expect(layer.args).toEqual(filled);
      expect(layer.parameters).toBe(definition.costs(input, output.shape, filled).parameters);
    });
  }
});
