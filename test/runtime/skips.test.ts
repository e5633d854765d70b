// Cross-stage skip edges train to single-device gradients: the U-Net-like
// sample (two skips from stage 0, to stages 2 and 3) and variants of it
// under other schedules and placements, in this thread and on worker
// threads, with each device's measured stash bytes equal to the compiler's
// prediction (the received skip is kept from its recv until the merge
// stage's backward). Evaluation carries the skips between stages too.

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../runtime/backends.ts';
import { verify } from '../../runtime/index.ts';
import { InProcessSession } from '../../runtime/session.ts';
import { WorkerSession } from '../../runtime/workers.ts';
import { compileText } from './helpers/compileText.ts';

const SAMPLE = readFileSync('samples/unet.pipe', 'utf8');

/** The sample under another schedule, one layer a stage when `placement` asks for eight stages. */
function variant(schedule: string, placement?: 'loop' | 'v'): string {
  const withSchedule = SAMPLE.replace('schedule 1f1b', `schedule ${schedule}`);
  if (placement === undefined) return withSchedule;
  const layers = ['enc0', 'enc1', 'bottleneck', 'up1', 'join1', 'dec1', 'join0', 'out'];
  return withSchedule.replace(/stages \{[\s\S]*?\n {2}\}/, `stages placement ${placement} {\n${layers.map((layer, s) => `    s${s} = ${layer}`).join('\n')}\n  }`);
}

describe('cross-stage skip edges give single-device gradients (cpu, fp32)', () => {
  beforeAll(async () => { await useBackend('cpu'); });

  for (const schedule of ['1f1b', 'gpipe', 'zb_h1']) {
    it(`samples/unet.pipe under ${schedule}: gradients, slots and stash bytes as predicted`, async () => {
      const ir = compileText(variant(schedule));
      expect(ir.skipEdges?.filter((edge) => edge.sourceStage !== edge.mergeStage)).toHaveLength(2);
      const result = await verify(ir, { baseDirectory: process.cwd() });
      expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
      expect(result.pipelineLoss).toBeCloseTo(result.referenceLoss, 5);
      expect(result.peakSlots).toEqual(result.predictedSlots);
      expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
    });
  }

  it('a skip inside one stage beside one that crosses: gradients and stash bytes as predicted', async () => {
    const ir = compileText(SAMPLE.replace('worker[0..4]', 'worker[0..3]').replace(/stages \{[\s\S]*?\n {2}\}/, [
      'stages {',
      '    s0 on worker[0] = enc0',
      '    s1 on worker[1] = enc1, bottleneck, up1, join1, dec1, join0',
      '    s2 on worker[2] = out',
      '  }',
    ].join('\n')));
    expect(ir.skipEdges?.map((edge) => [edge.sourceStage, edge.mergeStage])).toEqual([[1, 1], [0, 1]]);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });

  // Eight one-layer stages, so join1 and join0 are stages of their own, which hold their input and the skip before F.
  it('interleaved_1f1b (placement loop, eight stages): gradients and stash bytes as predicted', async () => {
    const result = await verify(compileText(variant('interleaved_1f1b', 'loop')), { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakSlots).toEqual(result.predictedSlots);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });

  // At the V's turn s3 hands join1 its input on one device; in this thread that buffer is also s3's
  // saved output, which the stash counts once (workers copy it), so only the gradients and slots are compared.
  it('zb_v (placement v, eight stages) gives single-device gradients', async () => {
    const result = await verify(compileText(variant('zb_v', 'v')), { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakSlots).toEqual(result.predictedSlots);
  });

  it('from a frozen prefix: no gradient goes back along the skips, and the rest trains to single-device gradients', async () => {
    const text = variant('zb_h2').replace('  layer enc0 = ', '  frozen layer enc0 = ').replace('  layer enc1 = ', '  frozen layer enc1 = ');
    const ir = compileText(text);
    const ops = ir.devices.flatMap((device) => device.instructions.map((instruction) => instruction.op));
    expect(ops.filter((op) => op === 'send_skip')).toHaveLength(2 * 8);
    expect(ops.filter((op) => op === 'send_skip_grad' || op === 'recv_skip_grad')).toEqual([]);
    const result = await verify(ir, { baseDirectory: process.cwd() });
    expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
    expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
  });

  it('on worker threads: the gradients, losses and evaluation of this thread', async () => {
    const ir = compileText(SAMPLE);
    const inProcess = new InProcessSession(ir, { baseDirectory: '.', externs: new Map() });
    const workers = await WorkerSession.create(ir, { backend: 'cpu', baseDirectory: '.' });
    try {
      const options = { applyOptimizer: true, training: true, checkFinite: true };
      for (let step = 0; step < 2; step++) {
        const a = await inProcess.step({ ...options, step });
        const b = await workers.step({ ...options, step });
        expect(b.loss).toBeCloseTo(a.loss, 6);
        expect(b.reports.map((report) => report.peakActivationBytes)).toEqual(ir.devices.map((device) => device.memory.activations));
      }
      const evaluation = await workers.evaluate(64);
      expect(evaluation.loss).toBeCloseTo((await inProcess.evaluate(64)).loss, 5);
    } finally {
      await workers.close();
      await inProcess.close();
    }
    const verified = await verify(ir, { baseDirectory: process.cwd(), mode: 'workers' });
    expect(verified.maxRelativeError).toBeLessThanOrEqual(1e-5);
  });
});
