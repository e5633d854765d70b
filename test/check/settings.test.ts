// Pipeline settings: known keys with did-you-mean, no duplicates, values of
// the right kind, required settings, microbatches that divide the batch (or
// a remainder policy), replicas that fit the cluster.

import { describe, expect, test } from 'vitest';
import { check, codes, expectClean, expectDiagnostic, variant } from './helpers.ts';

describe('pipeline settings', () => {
  test('unknown keys suggest the closest setting and are not also reported missing', () => {
    const result = check(variant(['batch 64 microbatches 8', 'batch 64 micro_batches 8']));
    expect(expectDiagnostic(result, 'PIPE2031', 'micro_batches', "unknown pipeline setting 'micro_batches'").hint).toBe("did you mean 'microbatches'?");
    expect(codes(result)).toEqual(['PIPE2031']);
  });

  test('duplicates relate the first', () => {
    const diagnostic = expectDiagnostic(check(variant(['  schedule 1f1b\n', '  schedule 1f1b\n  seed 1\n  seed 2\n'])), 'PIPE2032', 'seed', "the pipeline setting 'seed' is given more than once");
    expect(diagnostic.related[0].message).toBe('first given here');
  });

  test('values of the wrong kind', () => {
    expectDiagnostic(check(variant(['batch 64', 'batch 6.4'])), 'PIPE2033', '6.4', "the pipeline setting 'batch' must be a positive integer");
    expectDiagnostic(check(variant(['  model mlp\n', '  model 3\n'])), 'PIPE2033', '3', "the pipeline setting 'model' must be the name of a model");
    expect(expectDiagnostic(check(variant(['  schedule 1f1b\n', '  remainder dorp\n  schedule 1f1b\n'])), 'PIPE2033', 'dorp', "must be 'drop' or 'pad'").hint)
      .toBe("did you mean 'drop'?");
  });

  test('required settings', () => {
    const result = check(variant(['  optimizer adam(lr: 1e-3)\n', '']));
    expectDiagnostic(result, 'PIPE2040', 'train', "pipeline 'train' has no optimizer");
    expectDiagnostic(check(variant(['  stages {\n    s0 on gpu[0] = fc1, fc2\n    s1 on gpu[1] = out\n  }\n', ''])), 'PIPE2040', 'train', "pipeline 'train' has no stages");
  });

  test('microbatches must divide the batch unless a remainder policy says otherwise', () => {
    const result = check(variant(['batch 64', 'batch 60']));
    const diagnostic = expectDiagnostic(result, 'PIPE3001', '8', '8 microbatches do not divide the batch of 60');
    expect(diagnostic.hint).toBe('use a divisor of 60 (e.g. 6), or say what to do with the rest: remainder drop | pad');
    const dropped = check(variant(['batch 64', 'batch 60'], ['  schedule 1f1b\n', '  remainder drop\n  schedule 1f1b\n']));
    expectClean(dropped);
    expect(dropped.program!.pipeline).toMatchObject({ batch: 60, microbatches: 8, microbatchSize: 7, remainder: 'drop' });
    const padded = check(variant(['batch 64', 'batch 60'], ['  schedule 1f1b\n', '  remainder pad\n  schedule 1f1b\n']));
    expect(padded.program!.pipeline.microbatchSize).toBe(8);
    expectDiagnostic(check(variant(['batch 64 microbatches 8', 'batch 4 microbatches 8'])), 'PIPE3001', '8', '8 microbatches do not divide the batch of 4');
  });

  test('replicas need replicas × ranks compute devices', () => {
    const result = check(variant(['  schedule 1f1b\n', '  replicas 2\n  schedule 1f1b\n']));
    expectDiagnostic(result, 'PIPE3002', '2', "2 replica(s) × 2 pipeline rank(s) need 4 compute devices, but cluster 'local' has 2");
    const fits = check(variant(['gpu[0..2]', 'gpu[0..4]'], ['  schedule 1f1b\n', '  replicas 2\n  schedule 1f1b\n']));
    expectClean(fits);
    expect(fits.program!.pipeline).toMatchObject({ replicas: 2, devicesPerReplica: 2 });
  });

  test('defaults: one replica, seed 0, no data, steps when given', () => {
    const { pipeline } = check(variant(['  schedule 1f1b\n', '  schedule 1f1b\n  steps 20\n'])).program!;
    expect(pipeline).toMatchObject({ replicas: 1, seed: 0, steps: 20, remainder: 'error' });
    expect(pipeline.data).toBeUndefined();
  });
});
