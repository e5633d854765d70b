// Shapes propagate from the first input through every layer (repeat blocks
// expanded, residual blocks as one unit); a mismatch shows both shapes; one
// mistake gives one diagnostic, not a cascade.

import { describe, expect, test } from 'vitest';
import { formatShape } from '../../compiler/layers/catalog.ts';
import { check, expectClean, expectDiagnostic, variant } from './helpers.ts';

describe('shapes', () => {
  test('propagate through the model, with fixed dims evaluated and batch symbolic', () => {
    const result = check(variant(['  input x: f32[batch, 784]', '  dim seq = 4 * 7\n  input x: f32[batch, seq, 28]'], ['target y: i32[batch]', 'target y: i32[batch, seq]']));
    expectClean(result);
    const { model } = result.program!;
    expect(model.dims).toEqual({ batch: null, seq: 28 });
    expect(model.layers.map((layer) => formatShape(layer.outputShape))).toEqual(['f32[batch, 28, 64]', 'f32[batch, 28, 64]', 'f32[batch, 28, 10]']);
  });

  test('a mismatch names the layer and shows the expected and the actual shape', () => {
    const result = check(variant(['layer fc2 = Dense(units: 64, activation: relu)', 'layer fc2 = MaxPool(size: 2)']));
    expectDiagnostic(result, 'PIPE2012', 'layer fc2 = MaxPool(size: 2)',
      'fc2 (MaxPool) expects f32[batch, height, width, channels], got f32[batch, 64]');
    expect(result.diagnostics).toHaveLength(1); // later layers are not re-reported
  });

  test('repeat blocks expand into indexed layers; a repeat body mistake is reported once', () => {
    const result = check(variant(['  layer fc2 = Dense(units: 64, activation: relu)\n', '  repeat i in 0..3 {\n    layer h[i] = Dense(units: 64, activaton: relu)\n  }\n'], ['fc1, fc2', 'fc1, h']));
    expect(result.diagnostics.map((d) => d.code)).toEqual(['PIPE2004']);
    const ok = check(variant(['  layer fc2 = Dense(units: 64, activation: relu)\n', '  repeat i in 0..3 {\n    layer h[i] = Dense(units: 64)\n  }\n'], ['fc1, fc2', 'fc1, h']));
    expect(ok.program!.model.layers.map((layer) => layer.name)).toEqual(['fc1', 'h[0]', 'h[1]', 'h[2]', 'out']);
  });

  test('ranges must be whole numbers, and huge expansions stop with an error instead of hanging', () => {
    const fractional = check(variant(['  layer fc2 = Dense(units: 64, activation: relu)\n', '  repeat i in 0..2.5 {\n    layer fc2[i] = Dense(units: 64)\n  }\n']));
    expectDiagnostic(fractional, 'PIPE2024', '2.5', 'the end of a repeat range (a whole number, not 2.5) must be a number here');
    const nested = check(variant(['  layer fc2 = Dense(units: 64, activation: relu)\n', '  repeat i in 0..1000 {\n    repeat j in 0..1000 {\n      layer fc2[i * 1000 + j] = Dense(units: 64)\n    }\n  }\n']));
    expectDiagnostic(nested, 'PIPE2045', 'layer fc2[i * 1000 + j] = Dense(units: 64)', "model 'mlp' has more than 100000 elements; at most 100000 are allowed");
    expect(nested.diagnostics).toHaveLength(1);
  });

  test('an empty repeat is a warning and the program still checks', () => {
    const result = check(variant(['  layer out', '  repeat i in 2..2 {\n    layer e[i] = Dense(units: 4)\n  }\n  layer out']));
    expect(result.diagnostics.map((d) => [d.code, d.severity])).toEqual([['PIPE2042', 'warning']]);
    expect(result.program).toBeDefined();
  });

  test('a residual block is one unit whose children are named under it', () => {
    const result = check(variant(['  layer fc2 = Dense(units: 64, activation: relu)\n', '  residual fc2 {\n    layer norm = LayerNorm()\n    layer up = Dense(units: 64, activation: gelu)\n  }\n']));
    expectClean(result);
    const block = result.program!.model.layers[1];
    expect(block.operator).toBe('Residual');
    expect(block.children.map((child) => child.name)).toEqual(['fc2.norm', 'fc2.up']);
    expect(block.parameters).toBe(2 * 64 + 64 * 64 + 64);
  });

  test('a residual body that changes the shape is an error showing both shapes', () => {
    const result = check(variant(['  layer fc2 = Dense(units: 64, activation: relu)\n', '  residual fc2 {\n    layer up = Dense(units: 32)\n  }\n']));
    expectDiagnostic(result, 'PIPE2013', 'fc2', "residual block 'fc2' must keep its input shape f32[batch, 64], but its body produces f32[batch, 32]");
  });

  test('element types are checked', () => {
    expectDiagnostic(check(variant(['input x: f32', 'input x: f64'])), 'PIPE2010', 'f64', "unknown element type 'f64'");
  });

  test('a model needs an input, layers and a loss', () => {
    const noInput = check(variant(['  input x: f32[batch, 784]\n', '']));
    expectDiagnostic(noInput, 'PIPE2018', 'mlp', "model 'mlp' has no input");
    const noLoss = check(variant(['  loss softmax_cross_entropy(out, y)\n', '']));
    expectDiagnostic(noLoss, 'PIPE2018', 'mlp', "model 'mlp' has no loss");
  });

  test('layer costs are kept on the checked program', () => {
    const { model } = check(variant()).program!;
    expect(model.layers[0]).toMatchObject({ name: 'fc1', operator: 'Dense', parameters: 784 * 64 + 64, outputBytes: 256 });
    expect(model.layers[0].forwardFlops).toBeGreaterThan(2 * 784 * 64);
  });
});

describe('loss', () => {
  test('first argument must be the last layer', () => {
    expectDiagnostic(check(variant(['(out, y)', '(fc1, y)'])), 'PIPE2014', 'fc1', "the loss must take the model's last layer 'out' first, got 'fc1'");
  });

  test('second argument must be a target', () => {
    expect(expectDiagnostic(check(variant(['(out, y)', '(out, yy)'])), 'PIPE2015', 'yy', "got 'yy'").hint).toBe("did you mean 'y'?");
  });

  test('class targets drop the class dimension; mse needs the same shape', () => {
    const wrong = check(variant(['target y: i32[batch]', 'target y: i32[batch, 10]']));
    expectDiagnostic(wrong, 'PIPE2016', 'loss softmax_cross_entropy(out, y)', 'softmax_cross_entropy cannot compare f32[batch, 10] with target i32[batch, 10]');
    expectClean(check(variant(['target y: i32[batch]', 'target y: f32[batch, 10]'], ['softmax_cross_entropy', 'mse'])));
    expectDiagnostic(check(variant(['softmax_cross_entropy', 'mse'])), 'PIPE2016', 'loss mse(out, y)', 'mse needs a floating-point target');
  });

  test('unknown loss functions', () => {
    expect(expectDiagnostic(check(variant(['softmax_cross_entropy', 'msee'])), 'PIPE2017', 'msee', "unknown loss function 'msee'").hint).toBe("did you mean 'mse'?");
  });
});
