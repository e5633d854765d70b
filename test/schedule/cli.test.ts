// The schedule-related commands: pipec schedule, pipec compile, pipec export.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { runSchedule, defaultStagesPerDevice } from '../../cli/commands/schedule.ts';
import { runCompile } from '../../cli/commands/compile.ts';
import { runExport } from '../../cli/commands/export.ts';
import { validateIr } from '../../compiler/ir/schema.ts';
import { importTorchCsv } from '../../compiler/torch/csv.ts';
import { validateSchedule } from '../../compiler/schedule/validate.ts';

const samples = path.join(path.dirname(new URL(import.meta.url).pathname), '../../samples');
const base = { devices: 4, microbatches: 8, comms: false, color: false } as const;

describe('pipec schedule', () => {
  it('prints one row per device and the unit-cost summary', () => {
    const result = runSchedule('zb-h1', { ...base, stagesPerDevice: 1, format: 'text' });
    expect(result.exitCode).toBe(0);
    const lines = result.output!.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe('device 0: 0F0 0F1 0F2 0F3 0I0 0W0 0F4 0I1 0W1 0F5 0I2 0W2 0F6 0I3 0W3 0F7 0I4 0W4 0I5 0W5 0I6 0W6 0I7 0W7');
    expect(lines[4]).toBe('zb_h1: 4 devices, 4 stages, 8 microbatches; unit costs (F=I=W=1, B=2): makespan 27, bubble 11.1%, peak activations per device 4 4 4 4');
  });

  it('runs the vocabulary-parallel families with a shard stage per device, and refuses them as PyTorch CSVs', () => {
    for (const [name, stagesPerDevice] of [['1f1b_vocab', 1], ['v_half_vocab', 2]] as const) {
      const result = runSchedule(name, { ...base, stagesPerDevice: defaultStagesPerDevice(name), format: 'text' });
      expect(result.exitCode).toBe(0);
      const lines = result.output!.trim().split('\n');
      expect(lines).toHaveLength(5);
      const stages = 4 * stagesPerDevice;
      // device 0's shard is stage n + 0: its S and T passes appear in its row
      expect(lines[0].split(' ')).toEqual(expect.arrayContaining([`${stages}F0`, `${stages}${name === 'v_half_vocab' ? 'I' : 'B'}0`]));
      expect(lines[4]).toContain(`${name}: 4 devices, ${stages + 4} stages, 8 microbatches`);
      const csv = runSchedule(name, { ...base, stagesPerDevice: defaultStagesPerDevice(name), format: 'torch-csv' });
      expect(csv.exitCode).toBe(1);
      expect(csv.errorOutput).toContain('cannot be written as a PyTorch schedule CSV');
    }
  });

  it('writes PyTorch CSVs that import back valid, with and without comms', () => {
    for (const comms of [false, true]) {
      const result = runSchedule('zb-v', { ...base, comms, stagesPerDevice: 2, format: 'torch-csv' });
      expect(result.exitCode).toBe(0);
      const back = importTorchCsv(result.output!, 'zbv.csv');
      expect(back.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(validateSchedule(back.schedule!)).toEqual([]);
      expect(back.schedule!.stageDevice).toEqual([0, 1, 2, 3, 3, 2, 1, 0]);
    }
  });

  it('--format json gives the orders and --format ir an IR that validates', () => {
    const json = JSON.parse(runSchedule('1f1b', { ...base, stagesPerDevice: 1, format: 'json' }).output!);
    expect(json.orders[3].slice(0, 2)).toEqual([{ operation: 'F', stage: 3, microbatch: 0 }, { operation: 'B', stage: 3, microbatch: 0 }]);
    expect(json.unitCosts.makespan).toBe(33);
    const ir = JSON.parse(runSchedule('interleaved_1f1b', { ...base, stagesPerDevice: 2, format: 'ir' }).output!);
    expect(validateIr(ir).errors).toEqual([]);
  });

  it('auto asks the automatic scheduler for an order within --memory, then validates and proves it like any other', () => {
    const result = runSchedule('auto', { ...base, stagesPerDevice: 1, format: 'json', memory: 4 });
    expect(result.exitCode).toBe(0);
    const json = JSON.parse(result.output!);
    json.unitCosts.peakActivations.forEach((peak: number) => expect(peak).toBeLessThanOrEqual(4));
    expect(json.unitCosts.makespan).toBeLessThanOrEqual(33);
  });

  it('an unknown schedule or a shape the schedule cannot run is a usage error (exit 2) that says why', () => {
    const unknown = runSchedule('2f2b', { ...base, stagesPerDevice: 1, format: 'text' });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.errorOutput).toContain("pipec: unknown schedule '2f2b'");
    const tooFew = runSchedule('dualpipe-v', { ...base, microbatches: 4, stagesPerDevice: 2, format: 'text' });
    expect(tooFew.exitCode).toBe(2);
    expect(tooFew.errorOutput).toContain("pipec: dualpipe_v -p 4 -m 4 -v 2: schedule 'dualpipe_v' needs at least 2p microbatches (p = 4, m = 4)");
    expect(tooFew.errorOutput).not.toContain('std:schedules');
    // The contract's v == 2, as a pipeline with three stages per device would be told.
    const threeChunks = runSchedule('zb-v', { ...base, microbatches: 8, stagesPerDevice: 3, format: 'text' });
    expect(threeChunks.exitCode).toBe(2);
    expect(threeChunks.errorOutput).toContain("schedule 'zb_v' runs two stages per device, in a V (v = 3)");
    const oneChunk = runSchedule('v-half', { ...base, microbatches: 8, stagesPerDevice: 1, format: 'text' });
    expect(oneChunk.exitCode).toBe(2);
    expect(oneChunk.errorOutput).toContain("schedule 'v_half' runs two stages per device, in a V (v = 1)");
  });

  it('defaults to two stages per device for the multi-chunk families, and main() wires the flags', async () => {
    expect(defaultStagesPerDevice('zb-v')).toBe(2);
    expect(defaultStagesPerDevice('1f1b')).toBe(1);
    const dir = mkdtempSync(path.join(tmpdir(), 'pipec-schedule-'));
    const out = path.join(dir, 'v.csv');
    expect(await main(['node', 'pipec', 'schedule', 'v-half', '-p', '4', '-m', '8', '--format', 'torch-csv', '-o', out])).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(4);
    expect(await main(['node', 'pipec', 'schedule', '1f1b', '-p', 'x', '-m', '8'])).toBe(2);
  });
});

describe('pipec compile and pipec export', () => {
  it('compiles a sample to an IR that validates', () => {
    const result = runCompile(path.join(samples, 'mlp.pipe'), { format: 'text', color: false });
    expect(result.errorOutput).toBe('');
    expect(result.exitCode).toBe(0);
    expect(validateIr(result.ir).errors).toEqual([]);
  });

  it('exits 2 for a missing file and 1 for a program with errors', async () => {
    expect(runCompile('/nonexistent/x.pipe', { format: 'text', color: false }).exitCode).toBe(2);
    const dir = mkdtempSync(path.join(tmpdir(), 'pipec-compile-'));
    const broken = path.join(dir, 'broken.pipe');
    writeFileSync(broken, readFileSync(path.join(samples, 'mlp.pipe'), 'utf8').replace('schedule 1f1b', 'schedule dualpipe_v'));
    const result = runCompile(broken, { format: 'text', color: false });
    expect(result.exitCode).toBe(1);
    expect(result.errorOutput).toContain('error');
    const out = path.join(dir, 'mlp.ir.json');
    expect(await main(['node', 'pipec', 'compile', path.join(samples, 'mlp.pipe'), '-o', out])).toBe(0);
    expect(validateIr(JSON.parse(readFileSync(out, 'utf8'))).errors).toEqual([]);
  });

  it('rule schedules are list-scheduled with the program\'s derived costs, or unit costs with --unit', () => {
    const file = path.join(samples, 'custom_schedule.pipe');
    const unit = runExport(file, { pipeline: 'train_rules', unit: true, comms: false, format: 'text', color: false });
    expect(unit.exitCode).toBe(0);
    const rows = unit.csv!.trim().split('\n');
    expect(rows).toHaveLength(4);
    // my_zb: split backward, limit p, I > F > W — under unit costs the last rank alternates F and I
    expect(rows[3].startsWith('3F0,3I0,3F1,3I1')).toBe(true);
    const derived = runExport(file, { pipeline: 'train_rules', comms: false, format: 'text', color: false });
    expect(derived.exitCode).toBe(0);
    expect(importTorchCsv(derived.csv!, 'derived.csv').diagnostics).toEqual([]);
    expect(runCompile(file, { pipeline: 'train_rules', costs: '/nonexistent/costs.json', format: 'text', color: false }).exitCode).toBe(2);
  });

  it('exports a program\'s schedule as a PyTorch CSV', async () => {
    const result = runExport(path.join(samples, 'mlp.pipe'), { comms: false, format: 'text', color: false });
    expect(result.exitCode).toBe(0);
    expect(result.csv!.split('\n')[0]).toBe('0F0,0F1,0F2,0F3,0B0,0F4,0B1,0F5,0B2,0F6,0B3,0F7,0B4,0B5,0B6,0B7');
    const dir = mkdtempSync(path.join(tmpdir(), 'pipec-export-'));
    const out = path.join(dir, 'mlp.csv');
    expect(await main(['node', 'pipec', 'export', path.join(samples, 'mlp.pipe'), '--torch-csv', out, '--comms'])).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain('0SEND_F0');
  });
});
