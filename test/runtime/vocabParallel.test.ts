// Acceptance for vocabulary parallelism (`vocab_parallel LAYER`, Yeung et
// al. 2024): the output layer split over every device trains to the
// gradients of plain single-device training — the shards' statistics make
// the softmax's normaliser, the last stage sums the shards' input gradients
// — on the transformer and the MLP, in process and in worker threads; each
// device's measured slot peak (and, on the MLP, activation bytes) equals the
// compiler's prediction.

import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../runtime/backends.ts';
import { openSession, profile, readExternModule, verify } from '../../runtime/index.ts';
import { compileText } from './helpers/compileText.ts';
import { compileInMemory, compileOnDisk } from '../helpers/compileFiles.ts';
import { simulateCompilation } from '../../compiler/index.ts';
import { deepMlpModel, FOUR_GPU_CLUSTER, smallGptModel } from '../helpers/smallProgram.ts';

function gptProgram(schedule: string, stages: string): string {
  return `${smallGptModel(6)}
${FOUR_GPU_CLUSTER}
pipeline p {
  model gpt
  cluster local
  batch 16 microbatches 8
  ${stages}
  vocab_parallel head
  schedule ${schedule}
  optimizer adam(lr: 3e-3)
  data synthetic(examples: 256, seed: 4)
  seed 6
}
`;
}

function mlpProgram(schedule: string, stages: string): string {
  return `${deepMlpModel(7).replace('Dense(units: 5)', 'Dense(units: 8)')}
${FOUR_GPU_CLUSTER}
pipeline p {
  model mlp
  cluster local
  batch 32 microbatches 8
  ${stages}
  vocab_parallel out
  schedule ${schedule}
  optimizer adam(lr: 1e-3)
  data synthetic(examples: 512, seed: 3)
  seed 5
}
`;
}

// Nine MLP layers, the output layer with the last hidden one (a stage must keep a layer of its own).
const V_STAGES = `stages placement v {
    s0 = fc_in
    ${Array.from({ length: 6 }, (_, i) => `s${i + 1} = hidden[${i}]`).join('\n    ')}
    s7 = hidden[6], out
  }`;
const CASES = [
  { schedule: '1f1b_vocab', stages: 'stages auto(4)', mlpStages: 'stages auto(4)' },
  { schedule: 'v_half_vocab', stages: 'stages auto(8) placement v', mlpStages: V_STAGES },
] as const;

describe('vocabulary-parallel schedules give single-device gradients (p = 4, m = 8, cpu, fp32)', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  for (const { schedule, stages, mlpStages } of CASES) {
    for (const [model, program] of [['transformer', gptProgram], ['mlp', mlpProgram]] as const) {
      for (const mode of ['in-process', 'workers'] as const) {
        it(`${schedule} on the ${model} (${mode})`, async () => {
          const ir = compileText(program(schedule, model === 'mlp' ? mlpStages : stages));
          const shards = ir.stages.filter((stage) => stage.vocabShard !== undefined);
          expect(shards.map((stage) => stage.rank)).toEqual([0, 1, 2, 3]);
          const result = await verify(ir, { baseDirectory: process.cwd(), mode });
          expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
          expect(result.pipelineLoss).toBeCloseTo(result.referenceLoss, 5);
          expect(result.peakSlots).toEqual(result.predictedSlots);
          // As test/runtime/schedules.test.ts: the transformer's dropout masks are not in the prediction, so bytes are held to it on the MLP.
          if (model === 'mlp') {
            expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
            // the simulator charges the same stashes (the shards' logits among them) at the same peaks
            const simulated = simulateCompilation(compileInMemory(program(schedule, mlpStages), '/virtual/test.pipe'))!;
            expect(simulated.result.devices.map((device) => device.memory.activations)).toEqual(result.predictedActivationBytes);
          }
        });
      }
    }
  }
});

describe('held-out evaluation joins the shards\' logits', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  for (const mode of ['in-process', 'workers'] as const) {
    it(`scores as the unsharded head does, before and after a training step (${mode})`, async () => {
      const sharded = compileText(gptProgram('1f1b_vocab', 'stages auto(4)'));
      const whole = compileText(gptProgram('1f1b', 'stages auto(4)').replace('vocab_parallel head', ''));
      const sessions = [await openSession(sharded, { baseDirectory: process.cwd(), mode }), await openSession(whole, { baseDirectory: process.cwd(), mode })];
      try {
        const before = await Promise.all(sessions.map((session) => session.evaluate(64)));
        expect(before[0].loss).toBeCloseTo(before[1].loss, 5);
        expect(before[0].accuracy).toBe(before[1].accuracy);
        const steps = await Promise.all(sessions.map((session) => session.step({ step: 0, applyOptimizer: true, training: true, checkFinite: true })));
        expect(steps[0].loss).toBeCloseTo(steps[1].loss, 5);
        const after = await Promise.all(sessions.map((session) => session.evaluate(64)));
        expect(after[0].loss).toBeCloseTo(after[1].loss, 4);
        expect(after[0].loss).not.toBeCloseTo(before[0].loss, 4);
      } finally {
        await Promise.all(sessions.map((session) => session.close()));
      }
    });
  }
});

describe('with data-parallel replicas', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  it('each replica splits the layer over its own ranks, and the shards\' gradients are averaged over the replicas', async () => {
    const program = mlpProgram('1f1b_vocab', 'stages auto(4)')
      .replace(FOUR_GPU_CLUSTER, FOUR_GPU_CLUSTER.replace('gpu[0..4]', 'gpu[0..8]'))
      .replace('batch 32 microbatches 8', 'batch 32 microbatches 4\n  replicas 2');
    const ir = compileText(program);
    expect(ir.replicas).toBe(2);
    // a shard's gradients are all-reduced with the same shard of the other replica
    const groups = ir.devices.flatMap((device) => device.instructions.filter((i) => i.op === 'allreduce' && ir.stages[i.stage].vocabShard !== undefined).map((i) => [device.index, i.group]));
    expect(groups).toContainEqual([1, [1, 5]]);
    const result = await verify(ir, { baseDirectory: process.cwd(), mode: 'in-process' });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });
});

describe('profiling a vocabulary-parallel program', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  it('in situ (the default) measures every stage, the shards among them; isolated is refused with PIPE6341', async () => {
    const ir = compileText(mlpProgram('1f1b_vocab', 'stages auto(4)'));
    const measured = await profile(ir, { baseDirectory: process.cwd(), mode: 'in-process', repeats: 1 });
    expect(measured.costs.stages).toHaveLength(ir.stages.length);
    for (const stage of measured.costs.stages) expect(stage.forward).toBeGreaterThan(0);
    await expect(profile(ir, { baseDirectory: process.cwd(), isolated: true })).rejects.toMatchObject({ code: 'PIPE6341' });
  });
});

describe('samples/gpt_vocab.pipe', () => {
  it('passes verify: single-device gradients with the head split over the four workers (wasm, as pipec verify runs it)', async () => {
    const compiled = compileOnDisk('samples/gpt_vocab.pipe', { readExternModule });
    expect(compiled.diagnostics).toEqual([]);
    const result = await verify(compiled.ir!, { baseDirectory: process.cwd(), mode: 'in-process', backend: 'wasm' });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakSlots).toEqual(result.predictedSlots);
  });
});
