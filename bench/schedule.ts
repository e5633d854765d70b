// Schedule build + lowering speed, printed as JSON:
//   node bench/schedule.ts [--runs 3]
// 1. the real command, start-up included:
//    pipec schedule interleaved-1f1b -p 32 -m 512 -v 4 --format torch-csv
//    (131,072 compute actions; PyTorch needs 7.1 s to build the same order);
// 2. the same and p=64, m=1024, v=4 in-process, phase by phase (build,
//    validate, lower, deadlock proof, CSV), which is what `pipec compile`
//    spends on the schedule;
// 3. `pipec --version`, the start-up floor shared by every command.
// Wall times are the minimum and median over the runs: the machine is
// shared, so the minimum is the honest estimate of the work itself.

import { execFileSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { lowerToInstructionStreams, unitStageInfo } from '../compiler/lower/lower.ts';
import { builtinSchedule } from '../compiler/schedule/builtin.ts';
import { proveDeadlockFree } from '../compiler/schedule/deadlock.ts';
import { validateSchedule } from '../compiler/schedule/validate.ts';
import { exportTorchCsv } from '../compiler/torch/csv.ts';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag >= 0 ? Number(process.argv[runsFlag + 1]) : 3;

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { minMs: round(sorted[0]), medianMs: round(sorted[Math.floor(sorted.length / 2)]) };
}
function round(ms: number) {
  return Math.round(ms * 10) / 10;
}

function cli(args: string[]) {
  const samples: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    execFileSync(process.execPath, [path.join(root, 'bin/pipec.js'), ...args], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 30 });
    samples.push(performance.now() - start);
  }
  return { command: `pipec ${args.join(' ')}`, ...stats(samples) };
}

function inProcess(name: string, devices: number, microbatches: number, stagesPerDevice: number) {
  const phases: Record<string, number[]> = { build: [], validate: [], lower: [], prove: [], csv: [] };
  let actions = 0;
  let instructions = 0;
  for (let run = 0; run < runs; run++) {
    let t = performance.now();
    const lap = (phase: string) => {
      const now = performance.now();
      phases[phase].push(now - t);
      t = now;
    };
    const schedule = builtinSchedule(name, { devices, microbatches, stagesPerDevice }).schedule!;
    lap('build');
    if (validateSchedule(schedule).length > 0) throw new Error('benchmark schedule is invalid');
    lap('validate');
    const lowered = lowerToInstructionStreams(schedule, unitStageInfo(schedule.stages));
    lap('lower');
    if (!proveDeadlockFree(lowered).deadlockFree) throw new Error('benchmark schedule deadlocks');
    lap('prove');
    exportTorchCsv(schedule, { comms: false });
    lap('csv');
    actions = schedule.orders.reduce((sum, order) => sum + order.length, 0);
    instructions = lowered.devices.reduce((sum, device) => sum + device.instructions.length, 0);
  }
  const perPhase = Object.fromEntries(Object.entries(phases).map(([phase, samples]) => [phase, stats(samples).minMs]));
  const totals = phases.build.map((_, run) => Object.values(phases).reduce((sum, samples) => sum + samples[run], 0));
  return { schedule: name, devices, microbatches, stagesPerDevice, actions, instructions, phasesMinMs: perPhase, total: stats(totals) };
}

const result = {
  benchmark: 'schedule',
  node: process.version,
  cpus: availableParallelism(),
  loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  runs,
  inProcess: [inProcess('interleaved_1f1b', 32, 512, 4), inProcess('interleaved_1f1b', 64, 1024, 4), inProcess('zb_v', 32, 512, 2)],
  cli: [
    cli(['--version']),
    cli(['schedule', 'interleaved-1f1b', '-p', '32', '-m', '512', '-v', '4', '--format', 'torch-csv']),
    cli(['schedule', 'interleaved-1f1b', '-p', '64', '-m', '1024', '-v', '4', '--format', 'torch-csv']),
  ],
  pytorchReferenceSeconds: { 'interleaved-1f1b p=32 m=512 v=4': 7.1 },
};
console.log(JSON.stringify(result, null, 2));
