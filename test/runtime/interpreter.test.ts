import { describe, expect, it } from 'vitest';
import { useBackend } from '../../runtime/backends.ts';
import { InProcessSession } from '../../runtime/session.ts';
import { ReferenceTrainer, compareGradients } from '../../runtime/reference.ts';
import { handIr, handMlpIr, type HandSchedule } from './helpers/handIr.ts';
import type { IrProgram } from '../../compiler/ir/types.ts';
import { compileOnDisk } from '../helpers/compileFiles.ts';

async function pipelineVsReference(ir: IrProgram): Promise<{ error: number; peaks: number[] }> {
  const session = new InProcessSession(ir, { baseDirectory: '.', externs: new Map() });
  const summary = await session.step({ step: 0, applyOptimizer: false, training: true, checkFinite: true });
  const pipeline = await session.gradients();
  const reference = new ReferenceTrainer(ir, session.dataset, new Map());
  const referenceLoss = await reference.computeGradients(0);
  const expected = await reference.model.parameters.snapshotGradients();
  expect(summary.loss).toBeCloseTo(referenceLoss, 5);
  const { maxRelativeError } = compareGradients(pipeline, expected);
  reference.dispose();
  await session.close();
  return { error: maxRelativeError, peaks: summary.reports.map((r) => r.peakSlots) };
}

describe('interpreter on hand-written streams', () => {
  for (const schedule of ['gpipe', '1f1b', '1f1b_split'] as HandSchedule[]) {
    it(`${schedule} p=4 m=8 gives single-device gradients and the predicted slot peak`, async () => {
      await useBackend('cpu');
      const ir = handMlpIr(schedule, 4, 8);
      const { error, peaks } = await pipelineVsReference(ir);
      expect(error).toBeLessThanOrEqual(1e-5);
      expect(peaks).toEqual(ir.devices.map((d) => d.slots));
    });
  }
});

function block(name: string, dim: number, seq: number): IrProgram['model']['layers'][number] {
  return { name, operator: 'TransformerBlock', args: { heads: 2, ff: 2 * dim, causal: true, dropout: 0.1 }, inputShape: [seq, dim], outputShape: [seq, dim], inputDtype: 'f32', outputDtype: 'f32', parameters: 0, children: [] };
}

function handGptIr(schedule: HandSchedule, extra: Parameters<typeof handIr>[0] extends infer O ? Partial<O> : never = {}): IrProgram {
  const seq = 6;
  const dim = 8;
  const vocab = 16;
  return handIr({
    schedule, ranks: 4, microbatches: 8, microbatchSize: 2,
    layers: [
      { name: 'embed', operator: 'Embedding', args: { vocab, dim }, inputShape: [seq], outputShape: [seq, dim], inputDtype: 'i32', outputDtype: 'f32', parameters: vocab * dim, children: [] },
      block('block[0]', dim, seq), block('block[1]', dim, seq), block('block[2]', dim, seq), block('block[3]', dim, seq),
      { name: 'norm', operator: 'LayerNorm', args: { eps: 1e-5 }, inputShape: [seq, dim], outputShape: [seq, dim], inputDtype: 'f32', outputDtype: 'f32', parameters: 2 * dim, children: [] },
      { name: 'head', operator: 'Dense', args: { units: vocab, activation: 'none', bias: true }, inputShape: [seq, dim], outputShape: [seq, vocab], inputDtype: 'f32', outputDtype: 'f32', parameters: dim * vocab + vocab, children: [] },
    ],
    input: { name: 'tokens', shape: [seq], dtype: 'i32' },
    target: { name: 'next', shape: [seq], dtype: 'i32' },
    ...extra,
  });
}

describe('interpreter: transformer, replicas, recompute, faults', () => {
  it('a causal transformer with dropout through split-backward 1F1B equals single-device training', async () => {
    await useBackend('cpu');
    const ir = handGptIr('1f1b_split');
    const { error, peaks } = await pipelineVsReference(ir);
    expect(error).toBeLessThanOrEqual(1e-5);
    expect(peaks).toEqual(ir.devices.map((d) => d.slots));
  });

  it('two data-parallel replicas all-reduce to the full-batch gradient', async () => {
    const ir = handMlpIr('1f1b', 2, 4, { replicas: 2 });
    const { error } = await pipelineVsReference(ir);
    expect(error).toBeLessThanOrEqual(1e-5);
  });

  it('recompute stages (forward keeps only the input) give the same gradients', async () => {
    const ir = handMlpIr('gpipe', 4, 8, { recompute: true });
    const { error } = await pipelineVsReference(ir);
    expect(error).toBeLessThanOrEqual(1e-5);
  });

  it('a gradient that is never accumulated is caught (the comparison can fail)', async () => {
    const ir = handMlpIr('1f1b', 2, 4);
    const broken: IrProgram = { ...ir, devices: ir.devices.map((d) => d.rank !== 1 ? d : { ...d, instructions: d.instructions.map((i) => i.op === 'backward' && i.microbatch === 2 ? { ...i, op: 'backward_input' as const } : i) }) };
    const { error } = await pipelineVsReference(broken).catch(() => ({ error: Number.POSITIVE_INFINITY, peaks: [] }));
    expect(error).toBeGreaterThan(1e-3);
  });

  it('a stream whose recv is never matched stops with a deadlock error, not a hang', async () => {
    const ir = handMlpIr('1f1b', 2, 4);
    const broken: IrProgram = { ...ir, devices: ir.devices.map((d) => d.rank !== 0 ? d : { ...d, instructions: d.instructions.filter((i) => !(i.op === 'send_act' && i.microbatch === 1)) }) };
    const session = new InProcessSession(broken, { baseDirectory: '.', externs: new Map() });
    await expect(session.step({ step: 0, applyOptimizer: true, training: true, checkFinite: true })).rejects.toThrow(/PIPE6005.*waits for act:0:1/);
    await session.close();
  });

  it('NaN is reported with step, device, instruction, stage and microbatch', async () => {
    const ir = handMlpIr('1f1b', 2, 4, { optimizer: { name: 'sgd', args: { lr: 1e30 } } });
    const session = new InProcessSession(ir, { baseDirectory: '.', externs: new Map() });
    await session.step({ step: 0, applyOptimizer: true, training: true, checkFinite: true });
    await expect((async () => {
      for (let step = 1; step < 4; step++) await session.step({ step, applyOptimizer: true, training: true, checkFinite: true });
    })()).rejects.toThrow(/PIPE6004: step \d+, device gpu\[\d\] \(#\d\), instruction \d+ \w+, stage \d(, microbatch \d)?: .* NaN or Inf/);
    await session.close();
  });
});

// verify compares a pipeline with single-device training on one backend, so a kernel that is wrong on
// that backend (wasm's float32 oneHot once was) passes it; the default backend must agree with cpu itself.
describe('the wasm backend computes the gradients the cpu backend does', () => {
  async function gradientsOn(backend: 'cpu' | 'wasm', ir: IrProgram): Promise<Record<string, Float32Array>> {
    await useBackend(backend);
    const session = new InProcessSession(ir, { baseDirectory: '.', externs: new Map() });
    await session.step({ step: 0, applyOptimizer: false, training: true, checkFinite: true });
    const gradients = await session.gradients();
    await session.close();
    return gradients;
  }
  // Conv2D (stride 2, same padding), MaxPool with overlapping windows, LayerNorm, a residual, V placement.
  const imageLayers = compileOnDisk('test/fixtures/torch/image_layers.pipe').ir!;
  for (const [title, ir] of [
    ['MLP, 1F1B', handMlpIr('1f1b', 4, 8)],
    ['causal transformer with dropout, split backward', handGptIr('1f1b_split')],
    ['convolution and max pooling, ZB-V', imageLayers],
  ] as const) {
    it(title, async () => {
      const cpu = await gradientsOn('cpu', ir);
      const wasm = await gradientsOn('wasm', ir);
      await useBackend('cpu');
      expect(Object.keys(wasm).sort()).toEqual(Object.keys(cpu).sort());
      expect(compareGradients(wasm, cpu).maxRelativeError).toBeLessThanOrEqual(1e-5);
    });
  }
});
