// Acceptance against PyTorch's own orders (test/fixtures/torch-orders, copied from the shared fixtures):
// our timing reproduces the makespans the README quotes under unit costs,
// and pipec's schedule of the same family and shape is at least as fast and
// holds no more activations per rank. PyTorch's 1F1B file is rejected with
// the exact reason.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builtinSchedule } from '../../compiler/schedule/builtin.ts';
import { peakLiveActivations } from '../../compiler/schedule/memory.ts';
import { timeSchedule } from '../../compiler/schedule/unitTiming.ts';
import { validateSchedule, problemsToDiagnostics } from '../../compiler/schedule/validate.ts';
import { importTorchCsv } from '../../compiler/torch/csv.ts';
import { compileTorchCsv, simulateCompilation } from '../../compiler/index.ts';
import { LineMap, spanOf } from '../../grammar/source.ts';

const fixtures = new URL('../fixtures/torch-orders/', import.meta.url);
const readme = readFileSync(new URL('README.md', fixtures), 'utf8');
const files = readdirSync(fixtures).filter((file) => file.endsWith('.csv'));

/** README: "GPipe 33, Interleaved1F1B 57 (8 stages), ..." */
function quotedMakespans(): Map<string, number> {
  const quoted = new Map<string, number>();
  const sentence = /makespans: ([^.]*)\./s.exec(readme)![1];
  for (const match of sentence.matchAll(/(\w+) (\d+)/g)) quoted.set(match[1], Number(match[2]));
  return quoted;
}

const FAMILY: Readonly<Record<string, string>> = {
  GPipe: 'gpipe',
  '1F1B': '1f1b',
  Interleaved1F1B: 'interleaved_1f1b',
  LoopedBFS: 'looped_bfs',
  InterleavedZeroBubble: 'zb_h1',
  ZBVZeroBubble: 'zb_v',
  DualPipeV: 'dualpipe_v',
};

function parseName(file: string) {
  const match = /^Schedule(\w+?)_p(\d+)_m(\d+)_v(\d+)\.csv$/.exec(file)!;
  return { family: match[1], devices: Number(match[2]), microbatches: Number(match[3]), stagesPerDevice: Number(match[4]) };
}

describe('PyTorch orders', () => {
  const quoted = quotedMakespans();

  it('finds the fixtures and the quoted makespans', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
    expect(quoted.get('GPipe')).toBe(33);
  });

  for (const file of files) {
    const { family, devices, microbatches, stagesPerDevice } = parseName(file);
    if (family === '1F1B') continue;
    it(`${file}: unit timing agrees with the README, and pipec's ${FAMILY[family]} is no slower and holds no more`, () => {
      const imported = importTorchCsv(readFileSync(new URL(file, fixtures), 'utf8'), file);
      expect(imported.diagnostics).toEqual([]);
      const torch = imported.schedule!;
      expect(validateSchedule(torch)).toEqual([]);
      const torchTiming = timeSchedule(torch);
      expect(torchTiming.makespan).toBe(quoted.get(family));

      const ours = builtinSchedule(FAMILY[family], { devices, microbatches, stagesPerDevice });
      expect(ours.diagnostics).toEqual([]);
      const schedule = ours.schedule!;
      expect(schedule.stageDevice).toEqual(torch.stageDevice);
      expect(validateSchedule(schedule)).toEqual([]);
      expect(timeSchedule(schedule).makespan).toBeLessThanOrEqual(torchTiming.makespan);
      const torchPeaks = peakLiveActivations(torch);
      peakLiveActivations(schedule).forEach((peak, rank) => expect(peak, `rank ${rank}`).toBeLessThanOrEqual(torchPeaks[rank]));
    });
  }

  it("rejects Schedule1F1B_p4_m8_v1.csv: the last rank's row names microbatch 8 and never microbatch 0", () => {
    const file = 'Schedule1F1B_p4_m8_v1.csv';
    const text = readFileSync(new URL(file, fixtures), 'utf8');
    const imported = importTorchCsv(text, file);
    expect(imported.schedule!.microbatches).toBe(8);
    const problems = validateSchedule(imported.schedule!);
    const diagnostics = problemsToDiagnostics(problems, spanOf(file, 0, 0));
    const messages = diagnostics.map((d) => d.message);
    expect(messages).toContain('3F8 on device 3 step 14 names microbatch 8, but the microbatches are 0–7');
    expect(messages).toContain('stage 3 microbatch 0 is never run forward (F)');
    // Its 3B0 is there: only the forward of microbatch 0 is missing.
    expect(messages).toHaveLength(2);
    // The out-of-range action points at its cell: row 4, column of `3F8`.
    const bad = diagnostics.find((d) => d.message.startsWith('3F8'))!;
    const where = new LineMap(text).locate(bad.span.start);
    expect(where.line).toBe(4);
    expect(text.slice(bad.span.start, bad.span.end)).toBe('3F8');
    expect(where.column).toBe(text.split('\n')[3].indexOf('3F8') + 1);
    // The summary path says the same, on the last rank's row, and yields no timing.
    const checked = compileTorchCsv(text, file);
    expect(checked.ir).toBeUndefined();
    expect(checked.diagnostics.map((d) => d.message)).toEqual(messages);
    expect(checked.diagnostics.map((d) => new LineMap(text).locate(d.span.start).line)).toEqual([4, 4]);
  });

  it('pipec reproduces PyTorch\'s DualPipeV order exactly (overlap groups included)', () => {
    const file = 'ScheduleDualPipeV_p4_m8_v2.csv';
    const text = readFileSync(new URL(file, fixtures), 'utf8');
    const ours = builtinSchedule('dualpipe-v', { devices: 4, microbatches: 8, stagesPerDevice: 2 }).schedule!;
    const torch = importTorchCsv(text, file).schedule!;
    const strip = (s: typeof ours) => s.orders.map((order) => order.map((a) => `${a.stage}${a.operation}${a.microbatch}${a.overlapGroup === undefined ? '' : '+'}`));
    expect(strip(ours)).toEqual(strip(torch));
  });

  it('summarises a valid CSV: makespan and peak activations per rank', () => {
    const file = 'ScheduleZBVZeroBubble_p4_m8_v2.csv';
    const checked = compileTorchCsv(readFileSync(new URL(file, fixtures), 'utf8'), file);
    expect(checked.diagnostics).toEqual([]);
    expect(checked.schedule).toMatchObject({ devices: 4, stages: 8, microbatches: 8, splitBackward: true });
    expect(simulateCompilation(checked)!.result.makespan).toBe(51);
    expect(peakLiveActivations(checked.schedule!)).toEqual([8, 8, 8, 8]);
  });
});
