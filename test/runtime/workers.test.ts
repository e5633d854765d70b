import { describe, expect, it } from 'vitest';
import { useBackend } from '../../runtime/backends.ts';
import { InProcessSession } from '../../runtime/session.ts';
import { WorkerSession } from '../../runtime/workers.ts';
import { compareGradients } from '../../runtime/reference.ts';
import { handMlpIr } from './helpers/handIr.ts';
import { readFileSync } from 'node:fs';
import { verify } from '../../runtime/index.ts';
import { compileText } from './helpers/compileText.ts';

describe('worker_threads mode', () => {
  it('trains 1f1b and matches in-process gradients and losses', async () => {
    await useBackend('cpu');
    const ir = handMlpIr('1f1b', 2, 4);
    const inProcess = new InProcessSession(ir, { baseDirectory: '.', externs: new Map() });
    const workers = await WorkerSession.create(ir, { backend: 'cpu', baseDirectory: '.' });
    try {
      const stepOptions = { applyOptimizer: true, training: true, checkFinite: true };
      for (let step = 0; step < 2; step++) {
        const a = await inProcess.step({ ...stepOptions, step });
        const b = await workers.step({ ...stepOptions, step });
        expect(b.loss).toBeCloseTo(a.loss, 6);
        expect(b.reports.map((r) => r.peakSlots)).toEqual(ir.devices.map((d) => d.slots));
      }
      await inProcess.step({ step: 2, applyOptimizer: false, training: true, checkFinite: true });
      await workers.step({ step: 2, applyOptimizer: false, training: true, checkFinite: true });
      const { maxRelativeError } = compareGradients(await workers.gradients(), await inProcess.gradients());
      expect(maxRelativeError).toBeLessThanOrEqual(1e-6);
      const evaluation = await workers.evaluate(64);
      expect(evaluation.accuracy).toBeCloseTo((await inProcess.evaluate(64)).accuracy, 6);
    } finally {
      await workers.close();
      await inProcess.close();
    }
  });

  it('data-parallel replicas all-reduce over their own worker channels to the in-process gradients', async () => {
    await useBackend('cpu');
    // 2 ranks x 2 replicas: sends stay within a replica, the all-reduce crosses replicas.
    const ir = handMlpIr('1f1b', 2, 4, { replicas: 2 });
    const inProcess = new InProcessSession(ir, { baseDirectory: '.', externs: new Map() });
    const workers = await WorkerSession.create(ir, { backend: 'cpu', baseDirectory: '.' });
    try {
      const options = { step: 0, applyOptimizer: false, training: true, checkFinite: true };
      const a = await inProcess.step(options);
      const b = await workers.step(options);
      expect(b.loss).toBeCloseTo(a.loss, 6);
      const { maxRelativeError } = compareGradients(await workers.gradients(), await inProcess.gradients());
      expect(maxRelativeError).toBeLessThanOrEqual(1e-6);
    } finally {
      await workers.close();
      await inProcess.close();
    }
  });

  // At the turn of a V or a wave two consecutive stages share a device: the
  // hand-off is a send to itself, which has no channel between workers.
  for (const pipeline of ['train_waves', 'train_1f1b_v']) {
    it(`samples/hanayo.pipe ${pipeline} (hand-offs within a device at each turn) gives single-device gradients on workers`, async () => {
      await useBackend('cpu');
      const text = readFileSync(new URL('../../samples/hanayo.pipe', import.meta.url), 'utf8')
        .replace('batch 64 microbatches 8', 'batch 16 microbatches 8');
      const ir = compileText(pipeline === 'train_waves' ? text : text.replace(/pipeline train_waves \{[\s\S]*?\n\}\n/, ''));
      expect(ir.pipeline).toBe(pipeline);
      const result = await verify(ir, { baseDirectory: process.cwd(), mode: 'workers', backend: 'cpu' });
      expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
      expect(result.peakSlots).toEqual(result.predictedSlots);
    });
  }

  for (const kind of ['throw', 'exit', 'hang'] as const) {
    it(`a worker that ${kind}s stops the run with an error naming device and instruction`, async () => {
      const ir = handMlpIr('1f1b', 2, 4);
      const workers = await WorkerSession.create(ir, { backend: 'cpu', baseDirectory: '.', timeoutMs: 1500 });
      const started = Date.now();
      try {
        await expect(workers.step({ step: 0, applyOptimizer: true, training: true, checkFinite: true, fault: { device: 1, instruction: 3, kind } }))
          .rejects.toThrow(/device gpu\[1\] \(#1\), instruction 3/);
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        await workers.close();
      }
    });
  }
});
