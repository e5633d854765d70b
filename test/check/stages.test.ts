// Stages: every layer in exactly one stage, contiguous and in model order,
// unique names, devices that exist and compute, ranks without gaps,
// placements loop and v, automatic partitioning, recompute/offload.

import { describe, expect, test } from 'vitest';
import { check, codes, expectClean, expectDiagnostic, variant } from './helpers.ts';

const DEEP = (stages: string, schedule = '1f1b') => variant(
  ['  layer fc2 = Dense(units: 64, activation: relu)\n', '  repeat i in 0..6 {\n    layer hidden[i] = Dense(units: 64, activation: relu)\n  }\n'],
  ['device gpu[0..2]', 'device gpu[0..4]'],
  ['  stages {\n    s0 on gpu[0] = fc1, fc2\n    s1 on gpu[1] = out\n  }\n', stages],
  ['schedule 1f1b', `schedule ${schedule}`],
);

describe('stages', () => {
  test('layer ranges and whole arrays resolve in order', () => {
    const result = check(DEEP('  stages {\n    s0 on gpu[0] = fc1, hidden[0..2]\n    s1 on gpu[1] = hidden[2..4]\n    s2 on gpu[2] = hidden[4], hidden[5]\n    s3 on gpu[3] = out\n  }\n'));
    expectClean(result);
    expect(result.program!.pipeline.stages.map((s) => [s.name, s.device, s.layers])).toEqual([
      ['s0', 0, [0, 1, 2]], ['s1', 1, [3, 4]], ['s2', 2, [5, 6]], ['s3', 3, [7]],
    ]);
    const whole = check(DEEP('  stages {\n    s0 on gpu[0] = fc1, hidden\n    s1 on gpu[1] = out\n  }\n'));
    expect(whole.program!.pipeline.stages[0].layers).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  test('a stage taking hidden[3] before hidden[2] is an error naming both', () => {
    const result = check(DEEP('  stages {\n    s0 on gpu[0] = fc1, hidden[0..2]\n    s1 on gpu[1] = hidden[3], hidden[2]\n    s2 on gpu[2] = hidden[4..6]\n    s3 on gpu[3] = out\n  }\n'));
    const diagnostic = expectDiagnostic(result, 'PIPE3005', 'hidden[2]', "stage 's1' takes 'hidden[3]' before 'hidden[2]', but the model runs 'hidden[2]' first");
    expect(diagnostic.related[0].message).toBe("'hidden[3]' is taken here");
  });

  test('across stages too', () => {
    const result = check(variant(['s0 on gpu[0] = fc1, fc2\n    s1 on gpu[1] = out', 's0 on gpu[0] = fc1, out\n    s1 on gpu[1] = fc2']));
    const diagnostic = expectDiagnostic(result, 'PIPE3005', 'fc2', "stage 's1' takes 'out' before 'fc2'");
    expect(diagnostic.related[0].message).toBe("'out' is taken here, in stage 's0'");
  });

  test('unplaced, twice placed and unknown layers', () => {
    expectDiagnostic(check(variant(['fc1, fc2', 'fc1'])), 'PIPE3003', 'stages {\n    s0 on gpu[0] = fc1\n    s1 on gpu[1] = out\n  }', "layer 'fc2' is in no stage");
    expectDiagnostic(check(variant(['= out', '= fc2, out'])), 'PIPE3004', 'fc2', "layer 'fc2' is in both stage 's0' and stage 's1'");
    expect(expectDiagnostic(check(variant(['= out', '= outt'])), 'PIPE3006', 'outt', "model 'mlp' has no layer 'outt'").hint).toBe("did you mean 'out'?");
    expectDiagnostic(check(DEEP('  stages {\n    s0 on gpu[0] = fc1, hidden[0..7]\n    s1 on gpu[1] = out\n  }\n')), 'PIPE3007', '0..7', "hidden[6] does not exist: 'hidden' has indices 0–5");
    expectDiagnostic(check(variant(['= out', '= out[0]'])), 'PIPE3007', '0', "'out' is a single layer, not an array");
  });

  test('stage names are unique; devices are required without a placement and forbidden with one', () => {
    expectDiagnostic(check(variant(['s1 on', 's0 on'])), 'PIPE3008', 's0', "stage 's0' is declared more than once");
    expectDiagnostic(check(variant(['s1 on gpu[1] = out', 's1 = out'])), 'PIPE3010', 's1', "stage 's1' has no device");
    expectDiagnostic(check(variant(['stages {\n    s0 on gpu[0] = fc1, fc2', 'stages placement loop {\n    s0 = fc1, fc2'])), 'PIPE3009', 'gpu[1]', "stage 's1' has an explicit device, but the stages use placement loop");
  });

  test('explicit ranks are the cluster devices without gaps; devices must compute', () => {
    const gap = check(variant(['gpu[0..2]', 'gpu[0..3]'], ['s1 on gpu[1]', 's1 on gpu[2]']));
    expectDiagnostic(gap, 'PIPE3013', 'gpu[2]', 'the stages use gpu[2] but not gpu[1]');
    const host = check(variant(['  link', '  device host memory 1GiB\n  link'], ['s1 on gpu[1]', 's1 on host']));
    expectDiagnostic(host, 'PIPE3014', 'host', "device 'host' has no speed, so it cannot run stage 's1'");
  });

  test('several stages may share a device when placed explicitly', () => {
    // Written out, the map is loop-shaped, so interleaved_1f1b's `requires placement loop` holds.
    const result = check(DEEP('  stages {\n    s0 on gpu[0] = fc1, hidden[0]\n    s1 on gpu[1] = hidden[1..3]\n    s2 on gpu[0] = hidden[3..5]\n    s3 on gpu[1] = hidden[5], out\n  }\n', 'interleaved_1f1b'));
    expectClean(result);
    expect(result.program!.pipeline).toMatchObject({ placement: { kind: 'explicit', stageDevice: [0, 1, 0, 1], stagesPerDevice: 2 }, devicesPerReplica: 2 });
  });

  test('placement loop and v assign ranks; v needs an even number of stages per device', () => {
    const eight = (placement: string) => `  stages placement ${placement} {\n    s0 = fc1\n${Array.from({ length: 6 }, (_, i) => `    s${i + 1} = hidden[${i}]\n`).join('')}    s7 = out\n  }\n`;
    const loop = check(DEEP(eight('loop'), 'interleaved_1f1b'));
    expectClean(loop);
    expect(loop.program!.pipeline.stages.map((s) => s.device)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    const v = check(DEEP(eight('v'), 'zb_v'));
    expectClean(v);
    expect(v.program!.pipeline.stages.map((s) => s.device)).toEqual([0, 1, 2, 3, 3, 2, 1, 0]);
    expect(v.program!.pipeline.placement).toMatchObject({ kind: 'v', devices: 4, stagesPerDevice: 2 });
    const wave = check(DEEP(eight('wave'), 'zb_h2'));
    expectClean(wave);
    expect(wave.program!.pipeline.placement).toMatchObject({ kind: 'wave', stageDevice: [0, 1, 2, 3, 3, 2, 1, 0] });
    const odd = check(DEEP('  stages placement v {\n    s0 = fc1, hidden[0..3]\n    s1 = hidden[3..6]\n    s2 = out\n    s3 = \n  }\n'));
    expect(codes(odd)).toContain('PIPE1004');
    const tooFew = check(DEEP('  stages placement v {\n    s0 = fc1, hidden[0..3]\n    s1 = hidden[3..6], out\n  }\n'));
    expectDiagnostic(tooFew, 'PIPE3011', 'v', 'placement v on 4 device(s) needs an even number of stages per device (a multiple of 8), got 2 stages');
    expectDiagnostic(check(DEEP('  stages placement zigzag {\n    s0 = fc1, hidden, out\n  }\n')), 'PIPE3016', 'zigzag', "unknown placement 'zigzag'");
  });

  test('stages auto(N) partitions by cost', () => {
    const result = check(DEEP('  stages auto(4) balance compute\n'));
    expectClean(result);
    const { stages } = result.program!.pipeline;
    expect(stages.map((s) => s.name)).toEqual(['s0', 's1', 's2', 's3']);
    expect(stages.flatMap((s) => s.layers)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // fc1 (784→64) costs as much as ~12 hidden layers, so it stands alone.
    expect(stages[0].layers).toEqual([0]);
    const v = check(DEEP('  stages auto(8) placement v\n', 'zb_v'));
    expectClean(v);
    expect(v.program!.pipeline.stages.map((s) => s.device)).toEqual([0, 1, 2, 3, 3, 2, 1, 0]);
    expectDiagnostic(check(DEEP('  stages auto(9)\n')), 'PIPE3020', '9', "auto(9) needs a whole number of stages between 1 and the model's 8 layers");
    expectDiagnostic(check(DEEP('  stages auto(2) balance speed\n')), 'PIPE3016', 'speed', "unknown balance 'speed'");
    expectDiagnostic(check(DEEP('  stages auto(4)\n').replace('memory 16GiB', 'memory 1KiB')), 'PIPE3015', 'stages auto(4)', 'cannot partition 8 layers into 4 stages');
  });

  test('recompute and offload name existing stages and are kept on the stages', () => {
    const result = check(variant(['  schedule 1f1b\n', '  recompute s0\n  offload s1\n  schedule 1f1b\n']));
    expectClean(result);
    expect(result.program!.pipeline.stages.map((s) => [s.recompute, s.offload])).toEqual([[true, false], [false, true]]);
    expect(expectDiagnostic(check(variant(['  schedule 1f1b\n', '  offload s3\n  schedule 1f1b\n'])), 'PIPE3012', 's3', "unknown stage 's3' in offload").hint)
      .toBe("did you mean 's0'?");
  });

  test('stage costs apply the microbatch size and stage shapes chain', () => {
    const { pipeline, model } = check(variant()).program!;
    const [s0, s1] = pipeline.stages;
    expect(pipeline.microbatchSize).toBe(8);
    expect(s0.costs.forwardFlops).toBe((model.layers[0].forwardFlops + model.layers[1].forwardFlops) * 8);
    expect(s0.costs.parameters).toBe(model.layers[0].parameters + model.layers[1].parameters);
    expect(s0.costs.weightBytes).toBe(4 * s0.costs.parameters);
    expect(s0.costs.inputBytes).toBe(784 * 4 * 8);
    expect(s0.costs.outputBytes).toBe(64 * 4 * 8);
    expect(s1.inputShape).toEqual(s0.outputShape);
  });
});
