import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, verify, profile } from '../../runtime/index.ts';
import { handMlpIr } from './helpers/handIr.ts';

describe('run', () => {
  it('--resume continues to the same loss curve as an uninterrupted run', async () => {
    const ir = handMlpIr('1f1b', 2, 4, { optimizer: { name: 'adam', args: { lr: 0.01 } } });
    const directory = mkdtempSync(join(tmpdir(), 'pipec-checkpoint-'));
    try {
      const whole = await run(ir, { steps: 6 });
      await run(ir, { steps: 3, checkpointDirectory: directory });
      const resumed = await run(ir, { steps: 6, resumeDirectory: directory });
      expect(resumed.startStep).toBe(3);
      expect(resumed.lossHistory).toHaveLength(6);
      resumed.lossHistory.forEach((loss, i) => expect(loss).toBeCloseTo(whole.lossHistory[i], 6));
      expect(whole.lossHistory[5]).toBeLessThan(whole.lossHistory[0]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('refuses a corrupt checkpoint and one from another program', async () => {
    const ir = handMlpIr('1f1b', 2, 4);
    const directory = mkdtempSync(join(tmpdir(), 'pipec-checkpoint-'));
    try {
      await run(ir, { steps: 1, checkpointDirectory: directory });
      const other = handMlpIr('1f1b', 2, 4, { seed: 99 });
      await expect(run(other, { steps: 2, resumeDirectory: directory })).rejects.toThrow(/PIPE6009.*different/);
      const path = join(directory, 'checkpoint.json');
      writeFileSync(path, readFileSync(path, 'utf8').replace(/"step":1/, '"step":0'));
      await expect(run(ir, { steps: 2, resumeDirectory: directory })).rejects.toThrow(/PIPE6009.*corrupt/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('records a trace of every device and a measured bubble', async () => {
    const ir = handMlpIr('1f1b', 4, 8);
    const result = await run(ir, { steps: 1, trace: true });
    const names = new Set(result.trace!.traceEvents.filter((e) => e.cat === 'compute').map((e) => e.tid));
    expect([...names].sort()).toEqual([0, 1, 2, 3]);
    expect(result.measuredBubble).toBeGreaterThan(0);
    expect(result.measuredBubble).toBeLessThan(1);
    expect(result.peakSlots).toEqual(result.predictedSlots);
  });

  it('verify reports a tiny difference; profile measures every stage', async () => {
    const ir = handMlpIr('1f1b_split', 4, 8);
    const verdict = await verify(ir);
    expect(verdict.ok).toBe(true);
    expect(verdict.maxRelativeError).toBeLessThanOrEqual(1e-5);
    const measured = await profile(ir, { repeats: 2, isolated: true });
    expect(measured.costs.stages).toHaveLength(4);
    for (const stage of measured.costs.stages) {
      expect(stage.forward).toBeGreaterThan(0);
      expect(stage.backwardInput).toBeGreaterThan(0);
      expect(stage.backwardWeight).toBeGreaterThan(0);
    }
    expect(measured.costs.sendActivation.slice(0, 3).every((t) => t > 0)).toBe(true);
    expect(measured.costs.sendActivation[3]).toBe(0);
  });
});
