// Simulator speed, printed as JSON:
//   node bench/simulate.ts [--runs 3]
// interleaved-1f1b with p=64 devices, m=1024 microbatches, v=4 stages per
// device (524,288 compute actions, about 2.1 million instructions once
// lowered), simulated under unit costs with and without the per-device
// timeline and critical path. The target is under 1 s for the simulation
// (building and lowering the order are timed separately: they are the
// schedules phase's cost, not the simulator's).
// Wall times are the minimum and median over the runs: the machine is
// shared, so the minimum is the honest estimate of the work itself.

import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { compileBareSchedule, simulate } from '../compiler/index.ts';

const runsFlag = process.argv.indexOf('--runs');
const runs = runsFlag >= 0 ? Number(process.argv[runsFlag + 1]) : 3;

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { minMs: Math.round(sorted[0]), medianMs: Math.round(sorted[Math.floor(sorted.length / 2)]) };
}

const shape = { name: 'interleaved_1f1b', devices: 64, microbatches: 1024, stagesPerDevice: 4 };
let started = performance.now();
const built = compileBareSchedule(shape, { until: 'schedule' });
if (built.stop !== undefined) throw new Error(built.stop.message);
const buildMs = performance.now() - started;
started = performance.now();
const compiled = compileBareSchedule(shape, { until: 'lower' });
const lowerMs = performance.now() - started - buildMs;
const streams = compiled.ir!.devices;
const instructions = streams.reduce((total, device) => total + device.instructions.length, 0);
const costs = compiled.costs!;

const summaryOnly: number[] = [];
const withDetail: number[] = [];
let makespan = 0;
let bubble = 0;
for (let run = 0; run < runs; run++) {
  started = performance.now();
  const result = simulate(streams, costs, { detail: false });
  summaryOnly.push(performance.now() - started);
  makespan = result.makespan;
  bubble = result.bubble;
  started = performance.now();
  simulate(streams, costs);
  withDetail.push(performance.now() - started);
}

console.log(JSON.stringify({
  benchmark: 'simulate interleaved_1f1b p=64 m=1024 v=4, unit costs',
  instructions,
  makespan,
  bubble: Number(bubble.toFixed(4)),
  buildMs: Math.round(buildMs),
  lowerMs: Math.round(lowerMs),
  simulateSummary: stats(summaryOnly),
  simulateWithTimeline: stats(withDetail),
  targetMs: 1000,
  loadAverage: loadavg()[0],
}, null, 2));
