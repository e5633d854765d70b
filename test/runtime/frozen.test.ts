// Frozen layers and stages trained for real: with a frozen prefix (a
// forward-only encoder stage) and with a frozen layer in the middle of the
// pipeline, in-process and on workers, the pipelined gradients equal
// single-device training's, each device's stash peaks at the predicted
// bytes, and after training steps the frozen parameters are bitwise what
// they started as while the others moved.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { IrProgram } from '../../compiler/ir/types.ts';
import { useBackend } from '../../runtime/backends.ts';
import { readCheckpoint } from '../../runtime/checkpoint.ts';
import { run, verify } from '../../runtime/index.ts';
import { buildStage } from '../../runtime/model.ts';
import { simulateCompilation } from '../../compiler/index.ts';
import { compileInMemory } from '../helpers/compileFiles.ts';
import { compileText } from './helpers/compileText.ts';
import { FOUR_GPU_CLUSTER, smallGptModel } from '../helpers/smallProgram.ts';

/** 12 → 16 ×6 → 5: fc_in, h1 … h6, out, two layers a stage; `frozen` marks layers by name. */
function mlpProgram(options: { readonly frozenLayers?: readonly string[]; readonly frozenStages?: readonly string[]; readonly schedule: string; readonly split?: string }): string {
  const names = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
  const frozen = (name: string) => (options.frozenLayers?.includes(name) ? 'frozen ' : '');
  const layers = [
    `  ${frozen('fc_in')}layer fc_in = Dense(units: 16, activation: relu)`,
    ...names.map((name) => `  ${frozen(name)}layer ${name} = Dense(units: 16, activation: gelu)`),
    `  ${frozen('out')}layer out = Dense(units: 5)`,
  ];
  return `model mlp {
  input x: f32[batch, 12]
  target y: i32[batch]
${layers.join('\n')}
  loss softmax_cross_entropy(out, y)
}
${FOUR_GPU_CLUSTER}
pipeline p {
  model mlp
  cluster local
  batch 32 microbatches 8
  stages {
    ${options.split ?? 's0 on gpu[0] = fc_in, h1\n    s1 on gpu[1] = h2, h3\n    s2 on gpu[2] = h4, h5\n    s3 on gpu[3] = h6, out'}
  }
${options.frozenStages ? `  frozen ${options.frozenStages.join(', ')}\n` : ''}  schedule ${options.schedule}
  optimizer adam(lr: 1e-2)
  data synthetic(examples: 512, seed: 3)
  seed 5
}
`;
}

/** Each parameter's values after `steps` training steps (in-process), by name. */
async function trainedParameters(ir: IrProgram, steps: number): Promise<Map<string, Float32Array>> {
  const directory = mkdtempSync(join(tmpdir(), 'pipec-frozen-'));
  try {
    await run(ir, { steps, checkpointDirectory: directory });
    const checkpoint = readCheckpoint(directory, ir);
    const values = new Map<string, Float32Array>();
    for (const state of Object.values(checkpoint.stages)) for (const [name, array] of Object.entries(state.parameters)) values.set(name, array.values);
    return values;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Each parameter's initial values, by name. */
function initialParameters(ir: IrProgram): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  for (const stage of ir.stages) {
    const built = buildStage(ir, stage.index, new Map());
    for (const name of built.parameters.names()) values.set(name, built.parameters.get(name).dataSync() as Float32Array);
  }
  return values;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('a frozen prefix (the encoder stage s0 runs forward only)', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  const text = mlpProgram({ frozenStages: ['s0'], schedule: 'zb_h2' });

  it('compiles to F alone for s0: no backward, no gradient sent to it, no optimizer step, no gradient memory', () => {
    const ir = compileText(text);
    expect(ir.stages.map((s) => [s.frozen === true, s.forwardOnly === true])).toEqual([[true, true], [false, false], [false, false], [false, false]]);
    expect(ir.model.layers.filter((l) => l.frozen).map((l) => l.name)).toEqual(['fc_in', 'h1']);
    const stage0 = ir.devices[0].instructions.map((i) => i.op);
    expect(new Set(stage0)).toEqual(new Set(['load_microbatch', 'forward', 'send_act', 'free']));
    expect(ir.devices[1].instructions.some((i) => i.op === 'send_grad')).toBe(false);
    expect(ir.devices[0].memory.gradients).toBe(0);
    expect(ir.devices[0].memory.optimizerState).toBe(0);
    expect(ir.devices[0].memory.weights).toBeGreaterThan(0);
    expect(ir.devices[1].memory.gradients).toBe(ir.devices[1].memory.weights);
  });

  it('in-process: single-device gradients, predicted slots and stash bytes', async () => {
    const result = await verify(compileText(text), { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.pipelineLoss).toBeCloseTo(result.referenceLoss, 5);
    expect(result.peakSlots).toEqual(result.predictedSlots);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
    // The frozen parameters' gradients are exported as zeros: none was computed.
    const frozen = result.gradients.filter((g) => g.name.startsWith('fc_in/') || g.name.startsWith('h1/'));
    expect(frozen.map((g) => g.name)).toEqual(['fc_in/kernel', 'fc_in/bias', 'h1/kernel', 'h1/bias']);
    expect(frozen.every((g) => g.data.every((value) => value === 0))).toBe(true);
  });

  it('on workers: single-device gradients, predicted slots and stash bytes', async () => {
    const result = await verify(compileText(text), { baseDirectory: process.cwd(), mode: 'workers', backend: 'cpu' });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakSlots).toEqual(result.predictedSlots);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });

  it('an explicit order that lists only F for the frozen stage trains too', async () => {
    const order = `
schedule encoder_1f1b(p, m) {
  on device d {
    if d == 0 { F[0..m] }
    else {
      let w = min(p - d - 1, m)
      F[0..w]
      for i in 0..m - w { F[i + w]; B[i] }
      B[m - w..m]
    }
  }
}
`;
    const ir = compileText(mlpProgram({ frozenStages: ['s0'], schedule: 'encoder_1f1b' }) + order);
    expect(ir.devices[0].instructions.filter((i) => i.op === 'forward')).toHaveLength(8);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });

  it('leaves the frozen parameters bitwise unchanged over training steps, and trains the rest', async () => {
    const ir = compileText(text);
    const before = initialParameters(ir);
    const after = await trainedParameters(ir, 3);
    for (const [name, values] of before) {
      if (name.startsWith('fc_in/') || name.startsWith('h1/')) expect(sameBits(after.get(name)!, values), name).toBe(true);
      else expect(sameBits(after.get(name)!, values), name).toBe(false);
    }
  });
});

describe('a frozen layer in the middle (h3: its input gradient flows, it has no W)', () => {
  beforeAll(async () => { await useBackend('cpu'); });

  it('1f1b and zb_h1 (explicit orders) give single-device gradients and the predicted stash bytes, in-process and on workers', async () => {
    for (const schedule of ['1f1b', 'zb_h1']) {
      const ir = compileText(mlpProgram({ frozenLayers: ['h3'], schedule }));
      expect(ir.stages.every((s) => s.forwardOnly !== true && s.frozen !== true)).toBe(true);
      for (const mode of ['in-process', 'workers'] as const) {
        const result = await verify(ir, { baseDirectory: process.cwd(), mode, backend: 'cpu' });
        expect(result.maxRelativeError, `${schedule} ${mode}`).toBeLessThanOrEqual(1e-5);
        expect(result.peakSlots).toEqual(result.predictedSlots);
        expect(result.peakActivationBytes, `${schedule} ${mode}`).toEqual(result.predictedActivationBytes);
      }
    }
  });

  it('a whole frozen middle stage has no optimizer step but still passes gradients back', async () => {
    const ir = compileText(mlpProgram({ frozenStages: ['s2'], schedule: 'zb_h1' }));
    expect(ir.stages[2].frozen).toBe(true);
    expect(ir.stages[2].forwardOnly).toBeUndefined();
    expect(ir.devices[2].instructions.some((i) => i.op === 'optimizer_step')).toBe(false);
    expect(ir.devices[2].instructions.some((i) => i.op === 'send_grad')).toBe(true);
    expect(ir.devices[2].memory.gradients).toBe(0);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });

  it('leaves the frozen layer bitwise unchanged over training steps', async () => {
    const ir = compileText(mlpProgram({ frozenLayers: ['h3'], schedule: '1f1b' }));
    const before = initialParameters(ir);
    const after = await trainedParameters(ir, 3);
    for (const [name, values] of before) expect(sameBits(after.get(name)!, values), name).toBe(name.startsWith('h3/'));
  });
});

describe('frozen parts with data-parallel replicas', () => {
  beforeAll(async () => { await useBackend('cpu'); });

  it('two replicas all-reduce only what trains: a frozen prefix and a frozen layer in a trained stage', async () => {
    const text = mlpProgram({ frozenStages: ['s0'], frozenLayers: ['h3'], schedule: 'zb_h2' })
      .replace('device gpu[0..4]', 'device gpu[0..8]').replace('  schedule zb_h2', '  replicas 2\n  schedule zb_h2');
    const ir = compileText(text);
    const reduced = [...new Set(ir.devices.flatMap((d) => d.instructions.filter((i) => i.op === 'allreduce').map((i) => i.stage)))].sort();
    expect(reduced).toEqual([1, 2, 3]);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
    const before = initialParameters(ir);
    const after = await trainedParameters(ir, 2);
    for (const [name, values] of before) {
      const frozen = name.startsWith('fc_in/') || name.startsWith('h1/') || name.startsWith('h3/');
      expect(sameBits(after.get(name)!, values), name).toBe(frozen);
    }
  });
});

describe('a frozen prefix on a mirrored placement', () => {
  beforeAll(async () => { await useBackend('cpu'); });

  it('both model copies run their frozen first stage forward only and train to single-device gradients', async () => {
    const text = `model mlp {
  input x: f32[batch, 12]
  target y: i32[batch]
  frozen layer fc_in = Dense(units: 16, activation: relu)
  layer h1 = Dense(units: 16, activation: gelu)
  layer h2 = Dense(units: 16, activation: gelu)
  layer out = Dense(units: 5)
  loss softmax_cross_entropy(out, y)
}
${FOUR_GPU_CLUSTER}
pipeline p {
  model mlp
  cluster local
  batch 32 microbatches 8
  stages placement mirror {
    s0 = fc_in
    s1 = h1
    s2 = h2
    s3 = out
  }
  schedule both_ways
  optimizer adam(lr: 1e-2)
  data synthetic(examples: 512, seed: 3)
}
schedule both_ways(p, m) {
  requires placement mirror
  limit activations <= p per device
  priority B > F
}
`;
    const ir = compileText(text);
    expect(ir.stages.filter((s) => s.forwardOnly).map((s) => [s.name, s.rank])).toEqual([['s0', 0], ['s0_copy1', 3]]);
    expect(ir.devices.flatMap((d) => d.instructions.filter((i) => i.op === 'allreduce').map((i) => i.stage)).some((stage) => stage === 0 || stage === 4)).toBe(false);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });
});

describe('a frozen transformer prefix (embedding and first block)', () => {
  beforeAll(async () => { await useBackend('cpu'); });

  it('gives single-device gradients under zb_h2', async () => {
    const text = `${smallGptModel(4)}
${FOUR_GPU_CLUSTER}
pipeline p {
  model gpt
  cluster local
  batch 16 microbatches 8
  stages {
    s0 on gpu[0] = embed, block[0]
    s1 on gpu[1] = block[1]
    s2 on gpu[2] = block[2], block[3]
    s3 on gpu[3] = norm, head
  }
  frozen s0
  schedule zb_h2
  optimizer adam(lr: 3e-3)
  data synthetic(examples: 256, seed: 4)
  seed 6
}
`;
    const ir = compileText(text);
    expect(ir.stages[0].forwardOnly).toBe(true);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakSlots).toEqual(result.predictedSlots);
    const frozen = result.gradients.filter((g) => g.name.startsWith('embed/') || g.name.startsWith('block[0]/'));
    expect(frozen.length).toBeGreaterThan(0);
    expect(frozen.every((g) => g.data.every((value) => value === 0))).toBe(true);
    expect(result.gradients.filter((g) => g.name.startsWith('head/')).some((g) => g.data.some((value) => value !== 0))).toBe(true);
  });
});

describe('samples/frozen_encoder.pipe', () => {
  it('the simulator holds the stash bytes the compiler predicts, and beats training the encoder', () => {
    const text = readFileSync(new URL('../../samples/frozen_encoder.pipe', import.meta.url), 'utf8');
    const frozen = compileInMemory(text, 'frozen_encoder.pipe');
    const simulated = simulateCompilation(frozen)!.result;
    expect(simulated.devices.map((device) => device.memory.activations)).toEqual(frozen.ir!.devices.map((device) => device.memory.activations));
    const trained = simulateCompilation(compileInMemory(text.replace('frozen layer encoder', 'layer encoder'), 'trained.pipe'))!.result;
    expect(simulated.makespan).toBeLessThan(trained.makespan);
  });

  it('trains the head to single-device gradients with the predicted stash bytes (wasm, in-process and on workers)', async () => {
    const ir = compileText(readFileSync(new URL('../../samples/frozen_encoder.pipe', import.meta.url), 'utf8'), 'samples/frozen_encoder.pipe');
    expect(ir.stages[0].forwardOnly).toBe(true);
    expect(ir.devices[0].instructions.filter((i) => i.stage === 0).map((i) => i.op)).not.toContain('backward_input');
    for (const mode of ['in-process', 'workers'] as const) {
      const result = await verify(ir, { baseDirectory: process.cwd(), backend: 'wasm', mode });
      expect(result.maxRelativeError, mode).toBeLessThanOrEqual(1e-5);
      expect(result.peakSlots).toEqual(result.predictedSlots);
      expect(result.peakActivationBytes, mode).toEqual(result.predictedActivationBytes);
    }
  });
});
