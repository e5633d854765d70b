import { describe, expect, it } from 'vitest';
import { useBackend } from '../../runtime/backends.ts';
import { InProcessSession } from '../../runtime/session.ts';
import { ReferenceTrainer, compareGradients } from '../../runtime/reference.ts';
import { handMlpIr, type HandSchedule } from './helpers/handIr.ts';
import type { IrProgram } from '../../compiler/ir/types.ts';

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
