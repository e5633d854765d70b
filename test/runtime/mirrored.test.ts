// Acceptance for the mirrored families (two model copies sharing the
// ranks, compiler/placement.ts): each trains the MLP and the transformer to
// the gradients of plain single-device training, the two copies' gradients
// of every stage summed by the allreduce between their holders, in
// process and in worker threads; measured slot peaks equal the prediction.

import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../runtime/backends.ts';
import { openSession, verify } from '../../runtime/index.ts';
import { compileText } from './helpers/compileText.ts';
import { deepMlpModel, FOUR_GPU_CLUSTER, smallGptModel } from '../helpers/smallProgram.ts';

const MIRRORED: readonly { name: string; placement: 'mirror' | 'mirror_v'; stagesPerCopy: number }[] = [
  { name: 'dualpipe', placement: 'mirror', stagesPerCopy: 4 },
  { name: 'chimera', placement: 'mirror', stagesPerCopy: 4 },
  // each copy a V of 8 stages over the 4 devices
  { name: 'bitpipe', placement: 'mirror_v', stagesPerCopy: 8 },
];


function mlpProgram(schedule: string, placement: string, stages: number): string {
  const hidden = stages * 2 - 2;
  return `${deepMlpModel(hidden)}
${FOUR_GPU_CLUSTER}
pipeline p {
  model mlp
  cluster local
  batch 32 microbatches 8
  stages auto(${stages}) placement ${placement}
  schedule ${schedule}
  optimizer adam(lr: 1e-3)
  data synthetic(examples: 512, seed: 3)
  seed 5
}
`;
}

function gptProgram(schedule: string, placement: string, stages: number): string {
  return `${smallGptModel(stages * 2 - 2)}
${FOUR_GPU_CLUSTER}
pipeline p {
  model gpt
  cluster local
  batch 16 microbatches 8
  stages auto(${stages}) placement ${placement}
  schedule ${schedule}
  optimizer adam(lr: 3e-3)
  data synthetic(examples: 256, seed: 4)
  seed 6
}
`;
}

describe('mirrored schedules give single-device gradients (p = 4, m = 8, cpu, fp32)', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  for (const { name, placement, stagesPerCopy } of MIRRORED) {
    for (const [model, program] of [['mlp', mlpProgram], ['transformer', gptProgram]] as const) {
      for (const mode of ['in-process', 'workers'] as const) {
        it(`${name} on the ${model} (${mode})`, async () => {
          const ir = compileText(program(name, placement, stagesPerCopy));
          expect(ir.schedule).toBe(name);
          expect(ir.copies).toBe(2);
          expect(ir.stages).toHaveLength(2 * stagesPerCopy);
          // every stage's two holders sum its gradients before the optimizer step
          const allreduces = ir.devices.flatMap((device) => device.instructions.filter((i) => i.op === 'allreduce'));
          expect(allreduces).toHaveLength(2 * stagesPerCopy);
          for (const instruction of allreduces) expect(instruction.group).toHaveLength(2);
          const result = await verify(ir, { baseDirectory: process.cwd(), mode });
          expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
          expect(result.pipelineLoss).toBeCloseTo(result.referenceLoss, 5);
          expect(result.peakSlots).toEqual(result.predictedSlots);
        });
      }
    }
  }
});

describe('a user-written rule schedule for two copies', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  it('list-schedules both copies (each its own chain) and trains to single-device gradients', async () => {
    const text = mlpProgram('both_ways', 'mirror', 4) + `
schedule both_ways(p, m) {
  requires placement mirror
  limit activations <= p per device
  priority B > F
}
`;
    const ir = compileText(text);
    expect(ir.copies).toBe(2);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakSlots).toEqual(result.predictedSlots);
  });
});

describe('after several steps with both copies', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  it('the copies hold equal parameters, and held-out evaluation runs one copy through', async () => {
    const ir = compileText(mlpProgram('dualpipe', 'mirror', 4));
    const session = await openSession(ir, { baseDirectory: process.cwd() });
    try {
      for (let step = 0; step < 3; step++) await session.step({ step, applyOptimizer: true, training: true, checkFinite: true });
      const state = await session.state();
      // copy 1's stage n + s took the same summed gradient and the same step as stage s
      for (const stage of ir.stages.filter((s) => s.modelStage !== undefined)) {
        const copy = state[stage.index];
        const original = state[stage.modelStage!];
        expect(Object.keys(copy.parameters)).toEqual(Object.keys(original.parameters));
        for (const name of Object.keys(original.parameters)) expect(Array.from(copy.parameters[name].values)).toEqual(Array.from(original.parameters[name].values));
      }
      const evaluation = await session.evaluate(64);
      expect(Number.isFinite(evaluation.loss)).toBe(true);
    } finally {
      await session.close();
    }
  });
});
