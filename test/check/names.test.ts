// Names: duplicate declarations with the first as related location, unknown
// models/clusters/layers/operators/pipelines with did-you-mean hints.

import { describe, expect, test } from 'vitest';
import { closestName, didYouMean, editDistance } from '../../compiler/check/suggest.ts';
import { BASE_PROGRAM, check, expectDiagnostic, spanText, variant } from './helpers.ts';

describe('did you mean', () => {
  test('edit distance counts insertions, deletions and substitutions; case differences are cheap', () => {
    expect(editDistance('adam', 'adamw')).toBe(1);
    expect(editDistance('Dence', 'Dense')).toBe(1);
    expect(editDistance('dense', 'Dense')).toBe(0.5);
  });

  test('suggests only plausible typos', () => {
    expect(closestName('microbatch', ['batch', 'microbatches', 'model'])).toBe('microbatches');
    expect(closestName('zzz', ['batch', 'model'])).toBeUndefined();
    expect(didYouMean('zzz', ['a', 'b'])).toBe("expected one of: 'a', 'b'");
  });
});

describe('names', () => {
  test('a duplicate model points at the second and relates the first', () => {
    const result = check(`${BASE_PROGRAM}\nmodel mlp {\n  input x: f32[batch, 4]\n}\n`);
    const diagnostic = expectDiagnostic(result, 'PIPE2001', 'mlp', "model 'mlp' is declared more than once");
    expect(diagnostic.span.start).toBeGreaterThan(BASE_PROGRAM.length);
    expect(diagnostic.related).toHaveLength(1);
    expect(spanText(result, { ...diagnostic, span: diagnostic.related[0].span })).toBe('mlp');
  });

  test('a model and a pipeline may share a name', () => {
    const result = check(variant(['pipeline train', 'pipeline mlp']));
    expect(result.diagnostics).toEqual([]);
  });

  test('unknown model, cluster and operator come with suggestions', () => {
    expect(expectDiagnostic(check(variant(['  model mlp\n  cluster', '  model mpl\n  cluster'])), 'PIPE2002', 'mpl', "unknown model 'mpl'").hint)
      .toBe("did you mean 'mlp'?");
    expect(expectDiagnostic(check(variant(['cluster local\n  batch', 'cluster locale\n  batch'])), 'PIPE2025', 'locale', "unknown cluster 'locale'").hint)
      .toBe("did you mean 'local'?");
    expect(expectDiagnostic(check(variant(['= Dense(units: 10)', '= dense(units: 10)'])), 'PIPE2003', 'dense', "unknown layer type 'dense'").hint)
      .toBe("did you mean 'Dense'?");
  });

  test('duplicate layers, including array elements from a repeat', () => {
    expectDiagnostic(check(variant(['layer fc2 =', 'layer fc1 ='])), 'PIPE2011', 'fc1', "layer 'fc1' is declared more than once in model 'mlp'");
    const repeated = check(variant(['  layer fc2 = Dense(units: 64, activation: relu)\n', '  repeat i in 0..2 {\n    layer h[i % 1] = Dense(units: 64)\n  }\n']));
    expectDiagnostic(repeated, 'PIPE2011', 'h[i % 1]', "layer 'h[0]' is declared more than once");
  });

  test('an unknown dim in a tensor type', () => {
    expectDiagnostic(check(variant(['f32[batch, 784]', 'f32[batch, features]'])), 'PIPE2009', 'features', "unknown name 'features'");
  });

  test('--pipeline must name a declared pipeline', () => {
    const result = check(BASE_PROGRAM, {}, { pipeline: 'trian' });
    const diagnostic = result.diagnostics.find((d) => d.code === 'PIPE2038')!;
    expect(diagnostic.message).toBe("no pipeline named 'trian' in main.pipe");
    expect(diagnostic.hint).toBe("did you mean 'train'?");
    expect(result.program).toBeUndefined();
  });

  test('with several pipelines, --pipeline chooses which program is handed on, and all are checked', () => {
    const two = `${BASE_PROGRAM}\npipeline other {\n  model mlp\n  cluster local\n  batch 32 microbatches 4\n  stages auto(2)\n  schedule gpipe\n  optimizer sgd(lr: 0.1)\n}\n`;
    expect(check(two).program!.pipeline.name).toBe('train');
    expect(check(two, {}, { pipeline: 'other' }).program!.pipeline.name).toBe('other');
    const broken = check(two.replace('schedule gpipe', 'schedule gpipz'));
    expect(broken.diagnostics.map((d) => d.code)).toEqual(['PIPE2036']);
  });
});
