// Memory actions R / O / L in explicit orders, run for real: an R re-runs
// the forward from the checkpointed stage input, O / L move the stash to host
// typed arrays and back. Gradients must equal plain single-device training
// (relative error ≤ 1e-5) in process and on worker threads, and each
// device's measured peak of activation slots must equal the prediction.

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../runtime/backends.ts';
import { verify } from '../../runtime/index.ts';
import { compileText } from './helpers/compileText.ts';

const CLUSTER = `cluster local {
  device gpu[0..4] memory 16GiB speed 100TFLOPS
  device host memory 64GiB
  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us
  link gpu[*] <-> host bandwidth 20GB/s latency 5us
}`;

// 1F1B with memory actions: even microbatches are recomputed right before
// their backward, odd ones offloaded after their forward and loaded back
// before their backward. `split` runs I then W instead of B.
function scheduleText(split: boolean): string {
  const backward = (i: string) => (split ? `I[${i}]; W[${i}]` : `B[${i}]`);
  return `schedule mem_1f1b(p, m) {
  on device d {
    let w = min(p - d - 1, m)
    for i in 0..w { F[i]; if i % 2 == 1 { O[i] } }
    for i in 0..m-w {
      F[i+w]
      if (i + w) % 2 == 1 { O[i+w] }
      if i % 2 == 0 { R[i] } else { L[i] }
      ${backward('i')}
    }
    for i in m-w..m {
      if i % 2 == 0 { R[i] } else { L[i] }
      ${backward('i')}
    }
  }
}`;
}

function mlpProgram(split: boolean): string {
  return `${scheduleText(split)}
model mlp {
  input x: f32[batch, 12]
  target y: i32[batch]
  layer fc_in = Dense(units: 16, activation: relu)
  repeat i in 0..6 {
    layer hidden[i] = Dense(units: 16, activation: gelu)
  }
  layer out = Dense(units: 5)
  loss softmax_cross_entropy(out, y)
}
${CLUSTER}
pipeline p {
  model mlp
  cluster local
  batch 32 microbatches 8
  stages {
    s0 on gpu[0] = fc_in, hidden[0]
    s1 on gpu[1] = hidden[1], hidden[2]
    s2 on gpu[2] = hidden[3], hidden[4]
    s3 on gpu[3] = hidden[5], out
  }
  schedule mem_1f1b
  optimizer adam(lr: 1e-3)
  data synthetic(examples: 512, seed: 3)
  seed 5
}
`;
}

function gptProgram(): string {
  return `${scheduleText(false)}
model gpt {
  dim batch
  dim seq = 6
  input tokens: i32[batch, seq]
  target next: i32[batch, seq]
  layer embed = Embedding(vocab: 24, dim: 16)
  repeat i in 0..6 {
    layer block[i] = TransformerBlock(heads: 2, ff: 32, causal: true, dropout: 0.1)
  }
  layer norm = LayerNorm()
  layer head = Dense(units: 24)
  loss softmax_cross_entropy(head, next)
}
${CLUSTER}
pipeline p {
  model gpt
  cluster local
  batch 16 microbatches 8
  stages {
    s0 on gpu[0] = embed, block[0]
    s1 on gpu[1] = block[1], block[2]
    s2 on gpu[2] = block[3], block[4]
    s3 on gpu[3] = block[5], norm, head
  }
  schedule mem_1f1b
  optimizer adam(lr: 3e-3)
  data synthetic(examples: 256, seed: 4)
  seed 6
}
`;
}

describe('R / O / L actions give single-device gradients', () => {
  beforeAll(async () => { await useBackend('cpu'); });

  it('lowers R to a checkpointing forward and a recompute, O / L to offload and reload, where the order puts them', () => {
    const ir = compileText(mlpProgram(false));
    const device0 = ir.devices[0].instructions.filter((i) => i.microbatch !== undefined && i.op !== 'send_act' && i.op !== 'recv_grad' && i.op !== 'load_microbatch' && i.op !== 'send_grad');
    // microbatch 0 (recomputed): its forward keeps only the input; the recompute comes right before its backward
    const of = (microbatch: number) => device0.filter((i) => i.microbatch === microbatch).map((i) => (i.checkpoint ? `${i.op}*` : i.op));
    expect(of(0)).toEqual(['forward*', 'recompute', 'backward', 'free']);
    expect(of(1)).toEqual(['forward', 'offload', 'reload', 'backward', 'free']);
    const offload = ir.devices[0].instructions.find((i) => i.op === 'offload');
    expect(offload?.bytes).toBe(ir.stages[0].activationBytes);
  });

  for (const [name, text] of [['mlp with B', mlpProgram(false)], ['mlp with I and W', mlpProgram(true)], ['transformer (dropout)', gptProgram()]] as const) {
    it(`${name}, in process`, async () => {
      const result = await verify(compileText(text), { baseDirectory: process.cwd() });
      expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
      expect(result.pipelineLoss).toBeCloseTo(result.referenceLoss, 5);
      expect(result.peakSlots).toEqual(result.predictedSlots);
    });
  }

  it('mlp with B, on worker threads', async () => {
    const result = await verify(compileText(mlpProgram(false)), { baseDirectory: process.cwd(), mode: 'workers', backend: 'cpu' });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakSlots).toEqual(result.predictedSlots);
  });
});

describe('samples/recompute_bubbles.pipe', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  it('recomputes every microbatch, the first ones in the wait for the first gradient, with single-device gradients and the predicted bytes', async () => {
    const ir = compileText(readFileSync('samples/recompute_bubbles.pipe', 'utf8'));
    const recomputes = ir.devices.map((device) => device.instructions.filter((instruction) => instruction.op === 'recompute').length);
    expect(recomputes).toEqual(ir.devices.map(() => ir.microbatches));
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakSlots).toEqual(result.predictedSlots);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });
});

describe('samples/offload_selective.pipe', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  const text = readFileSync('samples/offload_selective.pipe', 'utf8');
  it('does not fit its first device under plain 1F1B', () => {
    expect(() => compileText(text.replace('schedule offload_odd\n', 'schedule 1f1b\n'))).toThrow(/PIPE5001: device 0 \(small\)/);
  });
  it('fits by offloading half of device 0\'s microbatches, with single-device gradients and the predicted bytes', async () => {
    const ir = compileText(text);
    expect(ir.devices.map((device) => device.instructions.filter((instruction) => instruction.op === 'offload').length)).toEqual([ir.microbatches / 2, 0, 0, 0]);
    expect(ir.devices[0].memory.peak).toBeLessThanOrEqual(ir.devices[0].memory.capacity);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });
});
