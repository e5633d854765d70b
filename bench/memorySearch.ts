// The automatic scheduler with memory actions: for a few (p, m, limit)
// cases, the best makespan without memory actions under the limit (or "does
// not fit"), with recompute only, with offload only and with both, all from
// one search (compiler/autoschedule/memoryActions.ts) and one evaluator (R a
// forward's time on compute, O / L on the copy stream). Costs: F = I = W =
// 1 per stage, a stash 1 activation unit, W's part the whole stash (unit
// costs free nothing at I), a checkpoint (stage input) a quarter of a
// stash, one offload or reload half a forward's time (or three forwards'). The limit is in
// activation units per device.
//   node bench/memorySearch.ts      (prints one JSON document)

import { performance } from 'node:perf_hooks';
import { autoScheduleWithMemoryActions, autoScheduleWithReport, describePairs, regularStageDevices, unitCostModel, type MemoryMode } from '../compiler/index.ts';

// copyTime: one offload or reload, in forwards; 3 makes the copy slower than the compute it could hide behind.
const CASES = [
  { p: 4, m: 8, v: 1, limit: 4, copyTime: 0.5 },
  { p: 4, m: 8, v: 1, limit: 3, copyTime: 0.5 },
  { p: 4, m: 8, v: 1, limit: 2, copyTime: 0.5 },
  { p: 4, m: 8, v: 1, limit: 2, copyTime: 3 },
  { p: 4, m: 8, v: 2, limit: 4, copyTime: 0.5 },
  { p: 4, m: 8, v: 2, limit: 3, copyTime: 0.5 },
  { p: 8, m: 16, v: 1, limit: 4, copyTime: 0.5 },
  { p: 8, m: 16, v: 1, limit: 4, copyTime: 3 },
] as const;
const CHECKPOINT = 0.25;

const rows = CASES.map(({ p, m, v, limit, copyTime }) => {
  // Two stages per device in a V, as `pipec schedule auto -v 2` places them.
  const stageDevice = regularStageDevices(v === 2 ? 'v' : 'loop', p, v);
  const costs = { ...unitCostModel(stageDevice.length), hostBandwidth: 1 / copyTime };
  const started = performance.now();
  const makespans: Partial<Record<MemoryMode, number | null>> = {};
  let recomputed = '';
  let offloaded = '';
  try {
    const report = autoScheduleWithMemoryActions(
      { shape: { devices: p, stages: stageDevice.length, microbatches: m, stageDevice }, costs, memoryLimit: Array.from({ length: p }, () => limit), checkpoint: stageDevice.map(() => CHECKPOINT), recompute: true, offload: true },
      (problem) => autoScheduleWithReport(problem).schedule,
    );
    for (const mode of ['none', 'recompute', 'offload', 'both'] as const) makespans[mode] = report.bestByMode[mode]?.makespan ?? null;
    recomputed = describePairs(report.recomputed);
    offloaded = describePairs(report.offloaded);
  } catch {
    for (const mode of ['none', 'recompute', 'offload', 'both'] as const) makespans[mode] = null;
  }
  return { p, m, v, limit, checkpoint: CHECKPOINT, copyTime, ...makespans, recomputed, offloaded, ms: Math.round(performance.now() - started) };
});
console.log(JSON.stringify({ benchmark: 'memorySearch', rows }, null, 2));
