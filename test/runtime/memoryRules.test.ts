// A rule schedule with memory rules, run for real: the list scheduler's R, O
// and L train to single-device gradients (relative error ≤ 1e-5), the
// instruction streams pass the deadlock proof (compileText fails otherwise),
// and each device's measured activation bytes equal the prediction.

import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../runtime/backends.ts';
import { verify } from '../../runtime/index.ts';
import { deepMlpModel } from '../helpers/smallProgram.ts';
import { compileText } from './helpers/compileText.ts';

const LOOP_STAGES = `stages {
    s0 on gpu[0] = fc_in, hidden[0]
    s1 on gpu[1] = hidden[1], hidden[2]
    s2 on gpu[2] = hidden[3], hidden[4]
    s3 on gpu[3] = hidden[5], out
  }`;

function program(rules: string, stages = LOOP_STAGES, limit = 'p - d'): string {
  return `schedule knobbed_1f1b(p, m) {
  limit activations <= ${limit}
  ${rules}
}
${deepMlpModel(6)}
cluster local {
  device gpu[0..4] memory 16GiB speed 100TFLOPS
  device host memory 64GiB
  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us
  link gpu[*] <-> host bandwidth 20GB/s latency 5us
}
pipeline p {
  model mlp
  cluster local
  batch 32 microbatches 8
  ${stages}
  schedule knobbed_1f1b
  optimizer adam(lr: 1e-3)
  data synthetic(examples: 512, seed: 3)
  seed 5
}
`;
}

describe('memory rules give single-device gradients', () => {
  beforeAll(async () => { await useBackend('cpu'); });

  it('recompute when live > 1 and offload ratio 0.5, in process', async () => {
    const ir = compileText(program('recompute when live > 1\n  offload ratio 0.5'));
    const count = (op: string) => ir.devices.map((device) => device.instructions.filter((instruction) => instruction.op === op).length);
    expect(count('recompute')[0]).toBeGreaterThan(0);
    expect(count('offload')[0]).toBeGreaterThan(0);
    const plain = compileText(program(''));
    expect(ir.devices[0].memory.peak).toBeLessThan(plain.devices[0].memory.peak);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.pipelineLoss).toBeCloseTo(result.referenceLoss, 5);
    expect(result.peakSlots).toEqual(result.predictedSlots);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });

  it('leaves a frozen (forward-only) stage alone: recompute ratio 1 and offload ratio 0.5 plan only stages that keep a stash', async () => {
    const ir = compileText(program('recompute ratio 1\n  offload ratio 0.5').replace('  schedule knobbed_1f1b', '  frozen s0\n  schedule knobbed_1f1b'));
    const memoryOps = (device: (typeof ir.devices)[number]) => device.instructions.filter((instruction) => instruction.op === 'recompute' || instruction.op === 'offload');
    expect(memoryOps(ir.devices[0])).toEqual([]);
    expect(ir.devices.slice(1, 3).some((device) => memoryOps(device).length > 0)).toBe(true);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });

  it('recompute ratio 1 and offload ratio 0.5 on a V placement with split backward, in process', async () => {
    const stages = `stages placement v {
    s0 = fc_in
    s1 = hidden[0]
    s2 = hidden[1]
    s3 = hidden[2]
    s4 = hidden[3]
    s5 = hidden[4]
    s6 = hidden[5]
    s7 = out
  }`;
    const ir = compileText(program('split backward\n  recompute ratio 1\n  offload ratio 0.5', stages, '2 * p'));
    const count = (op: string) => ir.devices.reduce((n, device) => n + device.instructions.filter((instruction) => instruction.op === op).length, 0);
    expect(count('recompute')).toBeGreaterThan(0);
    expect(count('offload')).toBeGreaterThan(0);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });
});
