import { describe, expect, it } from 'vitest';
import { deriveCostModel, readCostsFile, transferTime } from '../../compiler/cost/costModel.ts';
import { checkOnDisk } from '../helpers/compileFiles.ts';
import type { CheckedProgram } from '../../compiler/program.ts';

function checked(file: string): CheckedProgram {
  const result = checkOnDisk(file);
  if (result.program === undefined) throw new Error(`${file} does not check`);
  return result.program;
}

describe('deriveCostModel', () => {
  const program = checked('samples/mlp.pipe');
  const costs = deriveCostModel(program);

  it('divides each stage\'s FLOPs by its device\'s speed', () => {
    program.pipeline.stages.forEach((stage, s) => {
      const speed = program.cluster.devices[stage.device].flopsPerSecond;
      expect(costs.stages[s].forward).toBeCloseTo(stage.costs.forwardFlops / speed, 20);
      expect(costs.stages[s].backwardInput).toBeCloseTo(stage.costs.backwardInputFlops / speed, 20);
      expect(costs.stages[s].backwardWeight).toBeCloseTo(stage.costs.backwardWeightFlops / speed, 20);
      expect(costs.stages[s].backward).toBeCloseTo(costs.stages[s].backwardInput + costs.stages[s].backwardWeight, 20);
      expect(costs.stages[s].activation).toBe(stage.costs.activationBytes);
    });
  });

  it('charges bytes / bandwidth + latency between devices and nothing on one device', () => {
    const link = program.cluster.links.find((l) => l.from === 0 && l.to === 1)!;
    const bytes = program.pipeline.stages[0].costs.outputBytes;
    expect(costs.sendActivation[0]).toBeCloseTo(bytes / link.bandwidthBytesPerSecond + link.latencySeconds, 15);
    expect(costs.sendActivation[3]).toBe(0);
    expect(costs.sendGradient[0]).toBe(0);
    expect(transferTime(program.cluster, 2, 2, 1e9)).toBe(0);
  });
});

describe('readCostsFile', () => {
  const shape = { devices: 2, stages: 2, microbatches: 4, stageDevice: [0, 1] };
  const good = JSON.stringify({
    version: 1,
    backend: 'cpu',
    stages: [
      { stage: 1, forward: 0.2, backwardInput: 0.25, backwardWeight: 0.15, activationBytes: 1000 },
      { stage: 0, forward: 0.1, backwardInput: 0.1, backwardWeight: 0.1, backward: 0.21 },
    ],
    sendActivation: [0.01, 0],
    sendGradient: [0, 0.02],
  }, null, 2);

  it('reads measured costs, ordering stages and filling defaults', () => {
    const { costs, diagnostics } = readCostsFile(good, 'costs.json', shape);
    expect(diagnostics).toEqual([]);
    expect(costs).toEqual({
      kind: 'measured',
      stages: [
        { forward: 0.1, backwardInput: 0.1, backwardWeight: 0.1, backward: 0.21, activation: 1 },
        { forward: 0.2, backwardInput: 0.25, backwardWeight: 0.15, backward: 0.4, activation: 1000 },
      ],
      sendActivation: [0.01, 0],
      sendGradient: [0, 0.02],
    });
  });

  it('points at the offending value when the schema is not met', () => {
    const text = good.replace('"forward": 0.2', '"forward": -1');
    const { costs, diagnostics } = readCostsFile(text, 'costs.json', shape);
    expect(costs).toBeUndefined();
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0].code).toBe('PIPE5102');
    expect(diagnostics[0].message).toBe('costs file: /stages/0/forward must be >= 0');
    expect(text.slice(diagnostics[0].span.start, diagnostics[0].span.end)).toBe('-1');
  });

  it('reports broken JSON, unknown properties, wrong stage counts and repeated stages', () => {
    expect(readCostsFile('{"version": 1,', 'c.json', shape).diagnostics[0].code).toBe('PIPE5101');
    const unknown = readCostsFile(good.replace('"backend"', '"backand"'), 'c.json', shape).diagnostics;
    expect(unknown.map((d) => d.message)).toEqual(["costs file: the top level has an unknown property 'backand'"]);
    const three = readCostsFile(good, 'c.json', { ...shape, stages: 3, stageDevice: [0, 1, 1] }).diagnostics;
    expect(three.map((d) => d.code)).toEqual(['PIPE5103']);
    const repeated = readCostsFile(good.replace('"stage": 1', '"stage": 0'), 'c.json', shape).diagnostics;
    expect(repeated.map((d) => d.message)).toEqual([
      'stage 0 appears 2 times in the costs file; every stage 0–1 must appear exactly once',
      'stage 1 appears 0 times in the costs file; every stage 0–1 must appear exactly once',
    ]);
  });

  it('takes activation bytes and link times from the program when the file omits them', () => {
    const program = checked('samples/mlp.pipe');
    const stages = program.pipeline.stages.map((_, stage) => ({ stage, forward: 1, backwardInput: 1, backwardWeight: 1 }));
    const { costs } = readCostsFile(JSON.stringify({ version: 1, stages }), 'c.json', program);
    const derived = deriveCostModel(program);
    expect(costs?.stages.map((s) => s.activation)).toEqual(derived.stages.map((s) => s.activation));
    expect(costs?.sendActivation).toEqual(derived.sendActivation);
  });
});

describe('readCostsFile on what pipec profile writes', () => {
  it('accepts the CostModel-shaped document with its measurement notes', () => {
    // The shape cli/commands/profile.ts writes: the CostModel's fields plus units and measured.
    const text = JSON.stringify({
      kind: 'measured',
      stages: [
        { forward: 0.002, backwardInput: 0.0021, backwardWeight: 0.0019, backward: 0.004, activation: 4096 },
        { forward: 0.001, backwardInput: 0.001, backwardWeight: 0.0009, backward: 0.0019, activation: 2048 },
      ],
      sendActivation: [0.0001, 0],
      sendGradient: [0, 0.0001],
      units: 'seconds',
      measured: { pipeline: 'p', backend: 'cpu', microbatchSize: 8, repeats: 5, date: '2026-11-23T00:00:00.000Z' },
    });
    const { costs, diagnostics } = readCostsFile(text, 'profile.json', { devices: 2, stages: 2, microbatches: 4, stageDevice: [0, 1] });
    expect(diagnostics).toEqual([]);
    expect(costs?.stages.map((s) => s.activation)).toEqual([4096, 2048]);
    expect(costs?.stages[0].backward).toBe(0.004);
    expect(costs?.sendGradient).toEqual([0, 0.0001]);
  });
});
