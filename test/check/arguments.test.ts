// Arguments of layers, optimizers and data sources: unknown (with
// did-you-mean), duplicate, missing, wrong type, out of range; positional
// arguments bind in schema order.

import { describe, expect, test } from 'vitest';
import { check, expectClean, expectDiagnostic, variant } from './helpers.ts';

const withOut = (call: string) => check(variant(['layer out = Dense(units: 10)', `layer out = ${call}`]));

describe('arguments', () => {
  test('positional arguments bind in order and defaults fill the rest', () => {
    const result = withOut('Dense(10, relu)');
    expectClean(result);
    expect(result.program!.model.layers[2].args).toEqual({ units: 10, activation: 'relu', bias: true });
  });

  test('unknown, duplicate and missing arguments', () => {
    expect(expectDiagnostic(withOut('Dense(units: 10, bais: false)'), 'PIPE2004', 'bais', "Dense has no argument 'bais'").hint).toBe("did you mean 'bias'?");
    expectDiagnostic(withOut('Dense(units: 10, units: 11)'), 'PIPE2005', 'units: 11', "argument 'units' is given more than once");
    const missing = expectDiagnostic(withOut('Dense()'), 'PIPE2006', 'Dense', "Dense needs the argument 'units'");
    expect(missing.hint).toBe('add units: <int> (output features)');
    expectDiagnostic(withOut('Dense(10, relu, true, 4)'), 'PIPE2004', '4', "Dense has no argument '#4'");
  });

  test('types: int, bool, enum', () => {
    expectDiagnostic(withOut('Dense(units: 2.5)'), 'PIPE2007', '2.5', "argument 'units' of Dense must be an integer, got 2.5");
    expectDiagnostic(withOut('Dense(units: 10, bias: 1)'), 'PIPE2007', '1', "argument 'bias' of Dense must be true or false, got 1");
    const enumError = expectDiagnostic(withOut('Dense(units: 10, activation: sigmoid)'), 'PIPE2007', 'sigmoid', 'must be one of relu, gelu, tanh, none');
    expect(enumError.hint).toBe("expected one of: 'relu', 'gelu', 'tanh', 'none'");
  });

  test('ranges, including exclusive bounds', () => {
    expectDiagnostic(withOut('Dense(units: 0)'), 'PIPE2008', '0', "argument 'units' of Dense must be >= 1, got 0");
    const result = check(variant(['  layer out = Dense(units: 10)\n', '  layer d = Dropout(rate: 1)\n  layer out = Dense(units: 10)\n'], ['= out\n', '= d, out\n']));
    expectDiagnostic(result, 'PIPE2008', '1', "argument 'rate' of Dropout must be in [0, 1), got 1");
  });

  test('arguments may be computed from repeat variables', () => {
    const result = check(variant(['  layer fc2 = Dense(units: 64, activation: relu)\n', '  repeat i in 0..2 {\n    layer h[i] = Dense(units: 32 * (i + 1))\n  }\n'], ['fc1, fc2', 'fc1, h']));
    expectClean(result);
    expect(result.program!.model.layers.map((layer) => layer.outputShape.dims[1])).toEqual([64, 32, 64, 10]);
  });

  test('optimizers and data sources are checked against their own schemas', () => {
    expectDiagnostic(check(variant(['adam(lr: 1e-3)', 'adam(lr: 1e-3, beta3: 0.9)'])), 'PIPE2004', 'beta3', "adam has no argument 'beta3'");
    expectDiagnostic(check(variant(['adam(lr: 1e-3)', 'sgd()'])), 'PIPE2006', 'sgd', "sgd needs the argument 'lr'");
    expectDiagnostic(check(variant(['adam(lr: 1e-3)', 'adam(lr: -1)'])), 'PIPE2008', '-1', "argument 'lr' of adam must be > 0, got -1");
    const data = check(variant(['  optimizer adam(lr: 1e-3)\n', '  optimizer adam(lr: 1e-3)\n  data chars(path: "docs")\n']));
    expectDiagnostic(data, 'PIPE2006', 'chars', "chars needs the argument 'seq'");
    const ok = check(variant(['  optimizer adam(lr: 1e-3)\n', '  optimizer momentum(lr: 0.1)\n  data mnist(holdout: 500)\n']));
    expectClean(ok);
    expect(ok.program!.pipeline.optimizer).toMatchObject({ name: 'momentum', args: { lr: 0.1, momentum: 0.9 }, stateFactor: 1 });
    expect(ok.program!.pipeline.data).toMatchObject({ name: 'mnist', args: { holdout: 500, seed: 0 } });
  });
});
