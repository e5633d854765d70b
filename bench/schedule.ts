// Schedule build + lowering speed, printed as JSON:
//   node bench/schedule.ts [--runs 3]
// 1. the real command, start-up included:
//    pipec schedule interleaved-1f1b -p 32 -m 512 -v 4 --format torch-csv
//    (131,072 compute actions; the issue quotes 7.1 s for PyTorch), and the
//    same with --comms;
// 1b. the reference, when PyTorch runs here (the venv of
//    scripts/torch-venv.sh, .venv-torch/): PyTorch building the same order and writing its CSV
//    (bench/torch/torch_schedule_time.py), process start-up included, and
//    with its own send/recv lowering for the --comms row;
// 2. the same and p=64, m=1024, v=4 in-process, phase by phase (build,
//    validate, lower, deadlock proof, CSV), which is what `pipec compile`
//    spends on the schedule;
// 3. `pipec --version`, the start-up floor shared by every command.
// Wall times are the minimum and median over the runs: the machine is
// shared, so the minimum is the honest estimate of the work itself.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { compileBareSchedule, exportTorchCsv, type Phase } from '../compiler/index.ts';

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
  // The core's bare compilation run up to each phase: a phase's time is the difference to the one before.
  const upTo: Record<string, number[]> = { schedule: [], lower: [], verify: [] };
  const csvTimes: number[] = [];
  let actions = 0;
  let instructions = 0;
  for (let run = 0; run < runs; run++) {
    for (const until of ['schedule', 'lower', 'verify'] as const satisfies readonly Phase[]) {
      const start = performance.now();
      const compiled = compileBareSchedule({ name, devices, microbatches, stagesPerDevice }, { until });
      upTo[until].push(performance.now() - start);
      if (compiled.stop !== undefined) throw new Error(`benchmark schedule fails: ${compiled.stop.message}`);
      if (until !== 'verify') continue;
      const start2 = performance.now();
      exportTorchCsv(compiled.schedule!, { comms: false });
      csvTimes.push(performance.now() - start2);
      actions = compiled.schedule!.orders.reduce((sum, order) => sum + order.length, 0);
      instructions = compiled.ir!.devices.reduce((sum, device) => sum + device.instructions.length, 0);
    }
  }
  const min = (samples: number[]) => stats(samples).minMs;
  const perPhase = {
    scheduleAndValidate: min(upTo.schedule),
    lower: round(Math.max(0, min(upTo.lower) - min(upTo.schedule))),
    prove: round(Math.max(0, min(upTo.verify) - min(upTo.lower))),
    csv: min(csvTimes),
  };
  const totals = upTo.verify.map((ms, run) => ms + csvTimes[run]);
  return { schedule: name, devices, microbatches, stagesPerDevice, actions, instructions, phasesMinMs: perPhase, total: stats(totals) };
}

// PyTorch from the venv of scripts/torch-venv.sh (PIPEC_TORCH_VENV, default
// .venv-torch); absent on most machines, and then the row says so.
const torchVenv = process.env.PIPEC_TORCH_VENV ?? path.join(root, '.venv-torch');
const torchPython = path.join(torchVenv, 'bin/python');
function pytorchReference(comms: boolean): Record<string, unknown> {
  if (!existsSync(torchPython)) {
    return { skipped: `no PyTorch venv at ${torchVenv} (bash scripts/torch-venv.sh)` };
  }
  const samples: number[] = [];
  const internal: number[] = [];
  let report: Record<string, unknown> = {};
  try {
    for (let run = 0; run < runs; run++) {
      const start = performance.now();
      const stdout = execFileSync(torchPython, [path.join(root, 'bench/torch/torch_schedule_time.py'), '-p', '32', '-m', '512', '-v', '4', ...(comms ? ['--comms'] : [])], {
        cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'],
      });
      samples.push(performance.now() - start);
      report = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      internal.push(1000 * Number(report.totalSeconds));
    }
  } catch (error) {
    return { skipped: `PyTorch reference failed: ${(error as Error).message.split('\n')[0]}` };
  }
  // Two readings: the process from outside (Python's teardown of torch
  // included, ~0.6 s with 2.6), and the script's own clock from interpreter
  // start to the end of the work, which leaves both out and so favours PyTorch.
  return { command: `torch_schedule_time.py -p 32 -m 512 -v 4${comms ? ' --comms' : ''}`, process: stats(samples), untilWorkDone: stats(internal), last: report };
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
    cli(['schedule', 'interleaved-1f1b', '-p', '32', '-m', '512', '-v', '4', '--format', 'torch-csv', '--comms']),
  ],
  pytorch: { computeOnly: pytorchReference(false), withComms: pytorchReference(true) },
  pytorchIssueFigureSeconds: { 'interleaved-1f1b p=32 m=512 v=4': 7.1 },
};
console.log(JSON.stringify(result, null, 2));
