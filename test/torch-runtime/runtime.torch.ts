// Every built-in schedule, exported by pipec's CLI in both of PyTorch's CSV
// formats, run on PyTorch's own pipeline runtime (_PipelineScheduleRuntime,
// gloo on the CPU) by bench/torch/torch_csv_check.py, which compares every
// stage's gradients with single-process training. `npm run test:torch`.
//
// The machine this runs on may have 2 cores: all CSVs go to one checker
// process, which runs them in one process group per rank count (p = 2, then
// p = 4), one group at a time, importing torch once per rank.
//
// PIPEC_TORCH_RESULTS=FILE.jsonl writes the checker's lines there as well.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const python = inject('torchPython');
const skipReason = inject('torchSkipReason');
const tolerance = 1e-5;

type Format = 'compute_only' | 'compute_comms';
interface Case {
  name: string;
  cli: string[];
  format: Format;
  csv: string;
  staticShapes?: 'on';
}

// Each family within its constraints: the V-shaped ones have v = 2 and
// dualpipe_v m >= 2p; the multi-chunk loop-placed ones try v = 2 and 3;
// hanayo (wave placement) one and two waves (v = 2 and 4).
const grid: Array<{ family: string; p: number; m: number; v: number }> = [];
for (const p of [2, 4]) {
  for (const family of ['gpipe', '1f1b', 'zb_h1', 'zb_h2']) {
    for (const m of [p, 2 * p + 1]) grid.push({ family, p, m, v: 1 });
  }
  for (const family of ['interleaved_1f1b', 'looped_bfs', 'interleaved_zb']) {
    for (const v of [2, 3]) for (const m of [p, 2 * p]) grid.push({ family, p, m, v });
    if (p === 2) grid.push({ family, p, m: 5, v: 2 });
  }
  for (const family of ['zb_v', 'v_half', 'v_min', '1f1b_v']) {
    for (const m of [p, 2 * p]) grid.push({ family, p, m, v: 2 });
    if (p === 2) grid.push({ family, p, m: 5, v: 2 });
  }
  for (const m of [2 * p, 2 * p + 1]) grid.push({ family: 'dualpipe_v', p, m, v: 2 });
  for (const v of [2, 4]) for (const m of [p, 2 * p]) grid.push({ family: 'hanayo', p, m, v });
}
// pipec's comms lowering places receives by the link time (compiler/lower/comms.ts):
// every built-in at p = 2 and 4 with a slow link (a quarter of a forward), so
// the placement in simulated time, not the compute order's own timing, is what runs.
const linkFamilies: Array<{ family: string; v: number }> = [
  { family: 'gpipe', v: 1 }, { family: '1f1b', v: 1 }, { family: 'zb_h1', v: 1 }, { family: 'zb_h2', v: 1 },
  { family: 'interleaved_1f1b', v: 2 }, { family: 'looped_bfs', v: 2 }, { family: 'zb_v', v: 2 }, { family: 'v_half', v: 2 },
  { family: 'v_min', v: 2 }, { family: 'dualpipe_v', v: 2 },
];
// Programs exported with `pipec export` (their own p, m and placement).
const samples = ['interleaved.pipe', 'v_shape.pipe', 'swiglu.pipe'];

const dir = python ? mkdtempSync(path.join(tmpdir(), 'pipec-torch-')) : '';
const formats: Format[] = ['compute_only', 'compute_comms'];
const cases: Case[] = [];
for (const { family, p, m, v } of grid) {
  for (const format of formats) {
    const comms = format === 'compute_comms';
    const csv = path.join(dir, `${family}_p${p}_m${m}_v${v}${comms ? '_comms' : ''}.csv`);
    cases.push({
      name: `${family} p=${p} m=${m} v=${v} ${format}`,
      cli: ['schedule', family, '-p', `${p}`, '-m', `${m}`, '-v', `${v}`, '--format', 'torch-csv', ...(comms ? ['--comms'] : []), '-o', csv],
      format,
      csv,
    });
  }
}
for (const p of [2, 4]) {
  for (const { family, v } of linkFamilies) {
    const m = 2 * p;
    const csv = path.join(dir, `${family}_p${p}_m${m}_v${v}_comms_link.csv`);
    cases.push({
      name: `${family} p=${p} m=${m} v=${v} compute_comms, receives placed for link C=0.25`,
      cli: ['schedule', family, '-p', `${p}`, '-m', `${m}`, '-v', `${v}`, '--cost', 'F=1,I=1,W=1,C=0.25', '--format', 'torch-csv', '--comms', '-o', csv],
      format: 'compute_comms',
      csv,
    });
  }
}
for (const sample of samples) {
  for (const format of formats) {
    const comms = format === 'compute_comms';
    const csv = path.join(dir, `${sample.replace('.pipe', '')}${comms ? '_comms' : ''}.csv`);
    cases.push({ name: `export samples/${sample} ${format}`, cli: ['export', `samples/${sample}`, '--torch-csv', csv, ...(comms ? ['--comms'] : [])], format, csv });
  }
}
// The route for PyTorch before 2.13 (no placement-aware shape inference):
// static stage shapes on a V-placed CSV. On 2.13 it must give the same result.
const staticCase: Case = {
  name: 'zb_v p=4 m=8 v=2 compute_only, static stage shapes',
  cli: ['schedule', 'zb_v', '-p', '4', '-m', '8', '-v', '2', '--format', 'torch-csv', '-o', path.join(dir, 'zb_v_static.csv')],
  format: 'compute_only',
  csv: path.join(dir, 'zb_v_static.csv'),
  staticShapes: 'on',
};
cases.push(staticCase);
// Negative control: zb_v with one W removed; PyTorch must reject it.
const negative = { source: path.join(dir, 'zb_v_p4_m8_v2.csv'), csv: path.join(dir, 'zb_v_p4_m8_v2_one_w_removed.csv'), removed: '' };

interface Result {
  csv: string;
  ok: boolean;
  worst_rel_grad_err?: number;
  error?: string[];
  torch?: string;
}
const results = new Map<string, Result>();
let checkerLog = '';

/** Runs `work` on the items, at most `width` at a time. */
async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

describe.runIf(python)('pipec CSVs on PyTorch runtime', () => {
  beforeAll(async () => {
    // The exports: pipec's CLI, two at a time.
    await pool(cases, 2, async (c) => {
      await run(process.execPath, [path.join(root, 'bin/pipec.js'), ...c.cli], { cwd: root });
    });
    // Negative control: the first W cell of the row that has one.
    const rows = readFileSync(negative.source, 'utf8').trimEnd().split('\n').map((row) => row.split(','));
    const row = rows.find((cells) => cells.some((cell) => /^\d+W\d+$/.test(cell)))!;
    const at = row.findIndex((cell) => /^\d+W\d+$/.test(cell));
    negative.removed = row[at];
    row.splice(at, 1);
    writeFileSync(negative.csv, rows.map((cells) => cells.join(',')).join('\n') + '\n');

    // All checks in one checker process: p = 2 first, then p = 4, the
    // negative control last (a failure restarts the group after it).
    const jobs = cases.map((c) => ({ csv: c.csv, format: c.format, ...(c.staticShapes ? { static_shapes: c.staticShapes } : {}) }));
    jobs.push({ csv: negative.csv, format: 'compute_only' });
    const jobsFile = path.join(dir, 'jobs.jsonl');
    writeFileSync(jobsFile, jobs.map((job) => JSON.stringify(job)).join('\n') + '\n');
    const checked = await run(python, [path.join(root, 'bench/torch/torch_csv_check.py'), '--batch', jobsFile, '--log-dir', path.join(dir, 'logs')], {
      cwd: root, maxBuffer: 1 << 26, timeout: 540_000,
    }).catch((error: { stdout?: string; stderr?: string }) => ({ stdout: error.stdout ?? '', stderr: error.stderr ?? String(error) }));
    checkerLog = checked.stderr;
    for (const line of checked.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const result = JSON.parse(line) as Result;
      results.set(result.csv, result);
    }
    if (process.env.PIPEC_TORCH_RESULTS) {
      writeFileSync(process.env.PIPEC_TORCH_RESULTS, checked.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => {
        const result = JSON.parse(line) as Result;
        const c = cases.find((x) => x.csv === result.csv);
        return JSON.stringify({ case: c?.name ?? `negative control: zb_v p=4 m=8 v=2 without ${negative.removed}`, ...result, csv: path.basename(result.csv) });
      }).join('\n') + '\n');
    }
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = results.get(c.csv);
    if (!result) throw new Error(`no result from the checker for ${c.name}; its stderr ends:\n${checkerLog.slice(-2000)}`);
    expect(result.error, `${c.name}: ${result.error?.join(' | ')}`).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.worst_rel_grad_err).toBeLessThanOrEqual(tolerance);
  });

  test('negative control: zb_v p=4 m=8 with one W removed is rejected', () => {
    const result = results.get(negative.csv);
    expect(result, `no result for the negative control; stderr ends:\n${checkerLog.slice(-2000)}`).toBeDefined();
    expect(result!.ok).toBe(false);
    expect(result!.error?.join(' ')).toMatch(/\bW\b|backward/);
  });
});

// Without the venv the suite says why in its one (skipped) test's name.
if (!python) {
  describe('pipec CSVs on PyTorch runtime', () => {
    test.skip(`skipped: ${skipReason}`, () => {});
  });
}
