// Acceptance: every built-in schedule (p = 4, m = 8), compiled by pipec from
// .pipe text, trains the MLP and the transformer to the gradients of plain
// single-device training, and each device's measured peak of live
// activation slots, and of activation bytes, equals the compiler's
// prediction. Dims are shrunk from the samples so the whole file runs in
// seconds on two cores.

import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../runtime/backends.ts';
import { verify } from '../../runtime/index.ts';
import { compileText } from './helpers/compileText.ts';
import { deepMlpModel, FOUR_GPU_CLUSTER, smallGptModel } from '../helpers/smallProgram.ts';

const SCHEDULES: readonly { name: string; stagesPerDevice: 1 | 2 | 4; placement: 'loop' | 'v' | 'wave' }[] = [
  { name: 'gpipe', stagesPerDevice: 1, placement: 'loop' },
  { name: '1f1b', stagesPerDevice: 1, placement: 'loop' },
  { name: 'interleaved_1f1b', stagesPerDevice: 2, placement: 'loop' },
  { name: 'looped_bfs', stagesPerDevice: 2, placement: 'loop' },
  { name: 'interleaved_zb', stagesPerDevice: 2, placement: 'loop' },
  { name: 'zb_h1', stagesPerDevice: 1, placement: 'loop' },
  { name: 'zb_h2', stagesPerDevice: 1, placement: 'loop' },
  { name: 'zb_v', stagesPerDevice: 2, placement: 'v' },
  { name: 'v_half', stagesPerDevice: 2, placement: 'v' },
  { name: 'v_min', stagesPerDevice: 2, placement: 'v' },
  { name: 'dualpipe_v', stagesPerDevice: 2, placement: 'v' },
  { name: '1f1b_v', stagesPerDevice: 2, placement: 'v' },
  // two waves: 16 stages zig-zagging twice over the 4 devices
  { name: 'hanayo', stagesPerDevice: 4, placement: 'wave' },
];


function stagesBlock(groups: readonly string[][], placement: string): string {
  return `stages placement ${placement} {\n${groups.map((layers, s) => `    s${s} = ${layers.join(', ')}`).join('\n')}\n  }`;
}

function mlpProgram(schedule: string, stagesPerDevice: number, placement: string): string {
  const stages = stagesPerDevice * 4;
  // 8 layers, or one per stage when there are more stages
  const hidden = Math.max(6, stages - 2);
  const layers = ['fc_in', ...Array.from({ length: hidden }, (_, i) => `hidden[${i}]`), 'out'];
  const perStage = layers.length / stages;
  const groups = Array.from({ length: stages }, (_, s) => layers.slice(s * perStage, (s + 1) * perStage));
  return `${deepMlpModel(hidden)}
${FOUR_GPU_CLUSTER}
pipeline p {
  model mlp
  cluster local
  batch 32 microbatches 8
  ${stagesBlock(groups, placement)}
  schedule ${schedule}
  optimizer adam(lr: 1e-3)
  data synthetic(examples: 512, seed: 3)
  seed 5
}
`;
}

function gptProgram(schedule: string, stagesPerDevice: number, placement: string): string {
  const stages = stagesPerDevice * 4;
  // 6 blocks, or one per stage between the embedding and the head when there are more stages
  const blocks = Math.max(6, stages - 2);
  const groups = stagesPerDevice === 1
    ? [['embed', 'block[0]'], ['block[1]', 'block[2]'], ['block[3]', 'block[4]'], ['block[5]', 'norm', 'head']]
    : [['embed'], ...Array.from({ length: blocks }, (_, i) => [`block[${i}]`]), ['norm', 'head']];
  return `${smallGptModel(blocks)}
${FOUR_GPU_CLUSTER}
pipeline p {
  model gpt
  cluster local
  batch 16 microbatches 8
  ${stagesBlock(groups, placement)}
  schedule ${schedule}
  optimizer adam(lr: 3e-3)
  data synthetic(examples: 256, seed: 4)
  seed 6
}
`;
}

describe('every built-in schedule gives single-device gradients (p = 4, m = 8, cpu, fp32)', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  for (const { name, stagesPerDevice, placement } of SCHEDULES) {
    for (const [model, program] of [['mlp', mlpProgram], ['transformer', gptProgram]] as const) {
      it(`${name} on the ${model}`, async () => {
        const ir = compileText(program(name, stagesPerDevice, placement));
        expect(ir.schedule).toBe(name);
        expect(ir.ranks).toBe(4);
        expect(ir.microbatches).toBe(8);
        const result = await verify(ir, { baseDirectory: process.cwd() });
        expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
        expect(result.pipelineLoss).toBeCloseTo(result.referenceLoss, 5);
        expect(result.peakSlots).toEqual(result.predictedSlots);
        // Every layer kind keeps exactly the bytes the catalog says (test/runtime/layerRegistry.test.ts), the
        // transformer's dropout masks included, so each device's stash holds the predicted bytes.
        expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
      });
    }
  }
});

describe('compiled recompute, offload and data-parallel replicas', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  it('recompute and offload stages (zb_h1) give single-device gradients', async () => {
    const text = gptProgram('zb_h1', 1, 'loop').replace('  schedule zb_h1', '  recompute s0, s1\n  offload s2\n  schedule zb_h1');
    const ir = compileText(text);
    expect(ir.stages.map((s) => [s.recompute, s.offload])).toEqual([[true, false], [true, false], [false, true], [false, false]]);
    const ops = new Set(ir.devices.flatMap((d) => d.instructions.map((i) => i.op)));
    expect([...ops]).toEqual(expect.arrayContaining(['recompute', 'offload', 'reload']));
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakSlots).toEqual(result.predictedSlots);
    // s1 starts with a TransformerBlock, which keeps no buffer of its input: its checkpoint adds to the re-run stash.
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });

  it('two data-parallel replicas (8 devices) all-reduce to the full-batch gradients', async () => {
    const text = mlpProgram('1f1b', 1, 'loop').replace('device gpu[0..4]', 'device gpu[0..8]').replace('  schedule 1f1b', '  replicas 2\n  schedule 1f1b');
    const ir = compileText(text);
    expect(ir.replicas).toBe(2);
    expect(ir.devices).toHaveLength(8);
    expect(ir.devices.some((d) => d.instructions.some((i) => i.op === 'allreduce'))).toBe(true);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
  });
});
