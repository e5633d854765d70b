import { printDocument } from '../../grammar/index.ts';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSchedule } from '../../cli/commands/schedule.ts';
import { runShow } from '../../cli/commands/show.ts';
import { runSimulate } from '../../cli/commands/simulate.ts';
import { runTune } from '../../cli/commands/tune.ts';
import { main } from '../../cli/main.ts';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/torch-orders');
const deep = path.resolve(import.meta.dirname, 'fixtures/deep_mlp.pipe');
const scratch = mkdtempSync(path.join(tmpdir(), 'pipec-simulate-'));

function json(output: string) {
  return JSON.parse(output) as { makespan: number; bubble: number; devices: { memory: { activations: number; peak: number; capacity?: number } }[]; costs: string };
}

describe('pipec simulate', () => {
  it('simulates a program under unit costs', () => {
    const result = runSimulate({ file: 'samples/mlp.pipe', unit: true, format: 'json' });
    expect(result.exitCode).toBe(0);
    const report = json(result.output);
    expect(report.makespan).toBe(33);
    expect(report.devices.map((d) => d.memory.activations)).toEqual([4, 3, 2, 1]);
  });

  it('simulates a program under derived costs with memory in bytes and capacities', () => {
    const result = runSimulate({ file: deep, format: 'text' });
    expect(result.exitCode).toBe(0);
    expect(result.output).toMatch(/^pipeline train_deep · schedule 1f1b · 4 devices, 4 stages, 8 microbatches · costs derived from FLOPs and links\nmakespan [\d.]+ ms, bubble [\d.]+%/);
    expect(result.output).toMatch(/gpu\[0\] .* 2 GiB\n/);
    expect(result.output).toMatch(/critical path: 22 actions/);
  });

  it('reads a measured costs file', () => {
    const costs = path.join(scratch, 'costs.json');
    const stages = [0, 1, 2, 3].map((stage) => ({ stage, forward: 1, backwardInput: 1, backwardWeight: 1 }));
    writeFileSync(costs, JSON.stringify({ version: 1, stages, sendActivation: [0, 0, 0, 0], sendGradient: [0, 0, 0, 0] }));
    const report = json(runSimulate({ file: 'samples/mlp.pipe', costs, format: 'json' }).output);
    expect(report.costs).toBe('measured');
    expect(report.makespan).toBe(33);
  });

  it('reports a bad costs file with a code frame into it', () => {
    const costs = path.join(scratch, 'bad-costs.json');
    writeFileSync(costs, '{"version": 1, "stages": []}');
    const result = runSimulate({ file: 'samples/mlp.pipe', costs, format: 'text' });
    expect(result.exitCode).toBe(1);
    expect(result.errorOutput).toContain('PIPE5102');
    expect(result.errorOutput).toContain('bad-costs.json:1:');
  });

  it('simulates a bare built-in schedule, auto and a PyTorch CSV', () => {
    expect(json(runSimulate({ schedule: 'zb-v', devices: 4, microbatches: 8, format: 'json' }).output).makespan).toBe(51);
    const auto = json(runSimulate({ schedule: 'auto', devices: 4, microbatches: 8, memory: 8, format: 'json' }).output);
    expect(auto.makespan).toBe(27);
    const csv = path.join(fixtures, 'ScheduleDualPipeV_p4_m8_v2.csv');
    expect(json(runSimulate({ torchCsv: csv, format: 'json' }).output).makespan).toBe(51);
    const withComm = JSON.parse(runSimulate({ schedule: '1f1b', devices: 4, microbatches: 8, cost: 'F=1,I=1,W=1,C=0.5', format: 'json' }).output) as { makespan: number; criticalPath: { start: number; end: number; kind: string }[] };
    // At least the fill and drain hops (3 down, 3 up) are paid; the critical path accounts for all of it.
    expect(withComm.makespan).toBeGreaterThanOrEqual(33 + 6 * 0.5);
    expect(withComm.criticalPath.reduce((sum, step) => sum + step.end - step.start, 0)).toBeCloseTo(withComm.makespan, 9);
  });

  it('rejects the invalid PyTorch 1F1B order with diagnostics', () => {
    const result = runSimulate({ torchCsv: path.join(fixtures, 'Schedule1F1B_p4_m8_v1.csv'), format: 'text' });
    expect(result.exitCode).toBe(1);
    expect(result.errorOutput).toMatch(/PIPE4\d{3}/);
  });

  it('treats missing or conflicting inputs as usage errors', () => {
    expect(runSimulate({ format: 'text' }).exitCode).toBe(2);
    expect(runSimulate({ file: 'samples/mlp.pipe', schedule: '1f1b', format: 'text' }).exitCode).toBe(2);
    expect(runSimulate({ schedule: '1f1b', devices: 4, format: 'text' }).exitCode).toBe(2);
    expect(runSimulate({ file: 'samples/mlp.pipe', unit: true, costs: 'x.json', format: 'text' }).exitCode).toBe(2);
    expect(runSimulate({ schedule: '1f1b', devices: 2, microbatches: 2, cost: 'F=1,Q=2', format: 'text' }).errorOutput).toBe("pipec: --cost: unknown cost 'Q' (keys: F, I, W, B, C, A)\n");
    expect(runSimulate({ file: 'no/such.pipe', format: 'text' }).exitCode).toBe(2);
  });

  it('exits through main with the same codes', async () => {
    expect(await main(['node', 'pipec', 'simulate', '--schedule', '1f1b', '-p', '2', '-m', '2', '--format', 'json'])).toBe(0);
    expect(await main(['node', 'pipec', 'simulate'])).toBe(2);
  });
});

describe('pipec schedule auto', () => {
  it('prints an automatic order for a bare pipeline as a PyTorch CSV', () => {
    const result = runSchedule('auto', { devices: 4, microbatches: 8, stagesPerDevice: 1, format: 'torch-csv', comms: false, memory: 6, cost: 'F=1,I=1,W=1,C=0.5' });
    expect(result.exitCode).toBe(0);
    const rows = result.output!.trimEnd().split('\n');
    expect(rows).toHaveLength(4);
    expect(rows.every((row, rank) => row.split(',').length === 24 && row.split(',').every((cell) => cell.startsWith(String(rank))))).toBe(true);
    // Within 6 activations per device: never more than 6 F's ahead of the W's.
    for (const row of rows) {
      let live = 0;
      for (const cell of row.split(',')) {
        live += cell.includes('F') ? 1 : cell.includes('W') ? -1 : 0;
        expect(live).toBeLessThanOrEqual(6);
      }
    }
  });

  it('reports a malformed cost spec as a usage error', () => {
    const result = runSchedule('auto', { devices: 2, microbatches: 2, stagesPerDevice: 1, format: 'text', comms: false, cost: 'F=x' });
    expect(result.exitCode).toBe(2);
    expect(result.errorOutput).toBe("pipec: --cost: 'F=x' is not KEY=NUMBER (keys: F, I, W, B, C, A)\n");
  });
});

describe('pipec show', () => {
  it('draws an SVG comparing schedules of one program and writes a trace', async () => {
    const svgFile = path.join(scratch, 'mlp.svg');
    const traceFile = path.join(scratch, 'mlp.json');
    const result = await runShow({ file: 'samples/mlp.pipe', unit: true, compare: '1f1b,zb-h1', output: svgFile, trace: traceFile, format: 'svg' });
    expect(result.exitCode).toBe(0);
    const svg = result.files.get(svgFile) as string;
    expect(svg).toContain('1f1b — makespan 33, bubble 27.3%');
    expect(svg).toContain('zb_h1 — makespan 27, bubble 11.1%');
    const trace = JSON.parse(result.files.get(traceFile) as string) as { traceEvents: { ph: string; pid: number }[] };
    expect(new Set(trace.traceEvents.map((e) => e.pid))).toEqual(new Set([0, 1]));
  });

  it('compares bare schedules without --schedule', async () => {
    const result = await runShow({ devices: 4, microbatches: 8, compare: 'gpipe,1f1b,zb-h1,zb-v', format: 'svg' });
    expect(result.exitCode).toBe(0);
    for (const [name, makespan] of [['gpipe', 33], ['1f1b', 33], ['zb_h1', 27], ['zb_v', 51]] as const) {
      expect(result.output).toContain(`${name} — makespan ${makespan}`);
    }
  });

  it('prints a text timeline for a bare schedule', async () => {
    const result = await runShow({ schedule: 'zb-h1', devices: 2, microbatches: 2, format: 'text' });
    expect(result.exitCode).toBe(0);
    expect(result.output.split('\n')[0]).toBe('zb_h1 · 2 devices, 2 stages, 2 microbatches · unit costs');
    expect(result.output).toContain('rank 0 │');
  });

  it('re-splits the model for a schedule that needs another placement', async () => {
    const result = await runShow({ file: deep, unit: true, compare: '1f1b,zb-v', format: 'svg' });
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain('1f1b — makespan 33');
    // 8 stages on 4 devices, V-shaped: zb_v's unit-cost makespan at p=4, m=8.
    expect(result.output).toContain('zb_v (8 stages, placement v) — makespan 51');
  });

  it('reports a schedule that cannot be used with the program and keeps the others', async () => {
    // The MLP has 4 layers: too few to re-split into 8 stages for zb-v.
    const result = await runShow({ file: 'samples/mlp.pipe', unit: true, compare: '1f1b,zb-v', format: 'svg' });
    expect(result.exitCode).toBe(1);
    expect(result.output).toContain('1f1b — makespan 33');
    expect(result.errorOutput).toContain('pipec: with schedule zb_v (8 stages, placement v):');
    // The re-split's problem is reported at the user's own stages line.
    expect(result.errorOutput).toContain('samples/mlp.pipe:29:3: error PIPE3020');
    expect(result.errorOutput).toMatch(/PIPE\d{4}/);
  });
});

describe('pipec tune', () => {
  const best = path.join(scratch, 'best.pipe');
  const result = runTune(deep, { top: 10, format: 'text', output: best });

  it('lists ten configurations fastest first and writes the best', () => {
    expect(result.exitCode).toBe(0);
    const rows = result.output.split('\n').filter((line) => /^\s*\d+\s+\d+\s+\d/.test(line));
    expect(rows).toHaveLength(10);
    expect(readFileSync(best, 'utf8')).toBe(printDocument(result.best!.document));
  });

  it('beats the program as written, and the written program simulates to the reported time', () => {
    const original = json(runSimulate({ file: deep, format: 'json' }).output);
    expect(result.best!.makespan).toBeLessThan(original.makespan);
    const rerun = json(runSimulate({ file: best, format: 'json' }).output);
    expect(rerun.makespan).toBeCloseTo(result.best!.makespan, 12);
    expect(Math.max(...rerun.devices.map((d) => d.memory.peak / d.memory.capacity!))).toBeLessThanOrEqual(1);
  });
});

describe('pipec tune when nothing fits', () => {
  const nothingFits = 'test/tune/fixtures/nothing_fits.pipe';
  const text = runTune(nothingFits, { top: 10, format: 'text', maxStagesPerDevice: 1 });
  const data = JSON.parse(runTune(nothingFits, { top: 10, format: 'json', maxStagesPerDevice: 1 }).output) as {
    tried: number;
    nearMiss: { closest: { description: string; memory: { deviceName: string; capacity: number } }; fixes: { change: string }[]; smallestMemory: { bytes: number } };
  };

  it('exits 1 with PIPE5420 at the memory of the device furthest over', () => {
    expect(text.exitCode).toBe(1);
    expect(text.output).toBe('');
    const source = readFileSync(nothingFits, 'utf8');
    const at = source.indexOf('memory 24MiB');
    const line = source.slice(0, at).split('\n').length;
    const column = at - source.lastIndexOf('\n', at - 1);
    expect(text.errorOutput).toContain(`${nothingFits}:${line}:${column}: error PIPE5420: none of the ${data.tried} configurations tried fits 24 MiB per device`);
  });

  it('renders the near miss the JSON carries: the closest configuration, its device and every fix', () => {
    const { closest, fixes } = data.nearMiss;
    expect(text.errorOutput).toContain(`closest: ${closest.description}`);
    expect(text.errorOutput).toContain(`on ${closest.memory.deviceName} (`);
    expect(fixes.length).toBeGreaterThan(0);
    for (const fix of fixes) expect(text.errorOutput).toContain(fix.change);
    expect(data.nearMiss.smallestMemory.bytes).toBeGreaterThan(closest.memory.capacity);
  });
});

