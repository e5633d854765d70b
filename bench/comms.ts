// The comms lowering against PyTorch's, printed as JSON:
//   node bench/comms.ts [--python PATH]
// For every built-in schedule at a few (p, m, v), the compute-only order is
// lowered to SEND/RECV cells twice: by PyTorch 2.13's own passes
// (bench/torch/torch_add_send_recv.py in the PyTorch venv, the result read
// back with pipec's CSV importer) and by pipec's `--comms` lowering
// (compiler/lower/comms.ts). Both are proven deadlock-free and simulated
// under PyTorch's runtime semantics (compiler/simulate/comms.ts) with
// F = I = W = 1, B = 2 and two link times: the one of the cluster in
// samples/interleaved.pipe relative to its forward time, and a slow link
// of a quarter of a forward. Without the venv the PyTorch column comes
// from pipec's port of PyTorch's lowering (held to PyTorch's output cell
// for cell by test/lower/comms.test.ts), and the JSON says so. The samples'
// orders are compared too, each under the costs derived from its own
// program and cluster (seconds).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  builtinScheduleNames, compileBareSchedule, compileFile, createReaderHost, defaultStagesPerDevice, exportTorchCsv, importTorchCsv,
  lowerCommunication, lowerCommunicationLikePyTorch, proveCommsOrderDeadlockFree, simulateCommsOrder, type CommsOrder, type ComputeSchedule,
  type CostModel,
} from '../compiler/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pythonFlag = process.argv.indexOf('--python');
const python = pythonFlag >= 0 ? process.argv[pythonFlag + 1] : path.join(root, '.venv-torch/bin/python');

/** The sample cluster's link time over its forward time, for the first hop between devices. */
function clusterLinkRatio(): { ratio: number; source: string } {
  const file = path.join(root, 'samples/interleaved.pipe');
  const host = createReaderHost((at) => (existsSync(at) ? readFileSync(at, 'utf8') : undefined));
  const compiled = compileFile(file, host, { until: 'schedule' });
  const costs = compiled.costs!;
  const hop = costs.sendActivation.findIndex((time) => time > 0);
  return { ratio: costs.sendActivation[hop] / costs.stages[hop].forward, source: `samples/interleaved.pipe, stage ${hop} → ${hop + 1}` };
}

function uniformCosts(link: number, stageDevice: readonly number[]): CostModel {
  const compiled = compileBareSchedule({ name: 'gpipe', devices: 1, microbatches: 1 }, { until: 'schedule', costs: { kind: 'uniform', spec: `F=1,I=1,W=1,C=${link}` } });
  const stage = compiled.costs!.stages[0];
  const n = stageDevice.length;
  return {
    kind: 'measured',
    stages: Array.from({ length: n }, () => stage),
    sendActivation: Array.from({ length: n }, (_, s) => (s + 1 < n && stageDevice[s + 1] !== stageDevice[s] ? link : 0)),
    sendGradient: Array.from({ length: n }, (_, s) => (s > 0 && stageDevice[s - 1] !== stageDevice[s] ? link : 0)),
  };
}

const shapes: Array<{ p: number; m: number }> = [{ p: 4, m: 8 }, { p: 4, m: 16 }, { p: 8, m: 16 }];
const cases: Array<{ name: string; p: number; m: number; v: number; schedule: ComputeSchedule; csv: string }> = [];
const dir = mkdtempSync(path.join(tmpdir(), 'pipec-comms-'));
for (const name of builtinScheduleNames()) {
  const v = defaultStagesPerDevice(name);
  for (const { p, m } of shapes) {
    const compiled = compileBareSchedule({ name, devices: p, microbatches: m, stagesPerDevice: v }, { until: 'schedule' });
    if (compiled.schedule === undefined) continue;
    const csv = path.join(dir, `${name}_p${p}_m${m}_v${v}.csv`);
    writeFileSync(csv, exportTorchCsv(compiled.schedule, { comms: false }));
    cases.push({ name, p, m, v, schedule: compiled.schedule, csv });
  }
}

// The samples, each under its own cluster's derived costs (latency and bandwidth per link, seconds).
const host = createReaderHost((at) => (existsSync(at) ? readFileSync(at, 'utf8') : undefined));
const programs: Array<{ sample: string; schedule: ComputeSchedule; costs: CostModel; csv: string }> = [];
for (const sample of ['mlp', 'cnn', 'gpt', 'swiglu', 'interleaved', 'v_shape']) {
  const compiled = compileFile(path.join(root, 'samples', `${sample}.pipe`), host, { until: 'schedule' });
  if (compiled.schedule === undefined || compiled.costs === undefined) continue;
  const csv = path.join(dir, `sample_${sample}.csv`);
  writeFileSync(csv, exportTorchCsv(compiled.schedule, { comms: false }));
  programs.push({ sample, schedule: compiled.schedule, costs: compiled.costs, csv });
}

// PyTorch's lowering of every order, in one process.
let pytorchSource = 'PyTorch (bench/torch/torch_add_send_recv.py)';
const pytorchOrders = new Map<string, CommsOrder>();
if (existsSync(python)) {
  const jobs = path.join(dir, 'jobs.jsonl');
  writeFileSync(jobs, [...cases, ...programs].map((c) => JSON.stringify({ in: c.csv, out: c.csv.replace('.csv', '.pytorch_comms.csv') })).join('\n') + '\n');
  const out = execFileSync(python, [path.join(root, 'bench/torch/torch_add_send_recv.py'), '--batch', jobs], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const version = out.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { torch: string })[0]?.torch;
  pytorchSource = `PyTorch ${version} (bench/torch/torch_add_send_recv.py)`;
  for (const c of [...cases, ...programs]) {
    const file = c.csv.replace('.csv', '.pytorch_comms.csv');
    const imported = importTorchCsv(readFileSync(file, 'utf8'), path.basename(file));
    if (imported.comms === undefined) throw new Error(`no comms order in ${file}`);
    pytorchOrders.set(c.csv, imported.comms);
  }
} else {
  pytorchSource = `pipec's port of PyTorch's lowering (no PyTorch venv at ${python})`;
  for (const c of [...cases, ...programs]) pytorchOrders.set(c.csv, lowerCommunicationLikePyTorch(c.schedule));
}
rmSync(dir, { recursive: true, force: true });

const cluster = clusterLinkRatio();
const links = [{ label: 'cluster', link: cluster.ratio }, { label: 'slow', link: 0.25 }];
const rows = [];
for (const { label, link } of links) {
  for (const c of cases) {
    const costs = uniformCosts(link, c.schedule.stageDevice);
    const theirs = pytorchOrders.get(c.csv)!;
    const ours = lowerCommunication(c.schedule, costs);
    const proofs = [proveCommsOrderDeadlockFree(theirs).deadlockFree, proveCommsOrderDeadlockFree(ours).deadlockFree];
    const pytorch = simulateCommsOrder(theirs, costs);
    const pipec = simulateCommsOrder(ours, costs);
    const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
    rows.push({
      schedule: c.name, p: c.p, m: c.m, v: c.v, link: label, linkTime: Number(link.toPrecision(4)),
      pytorchMakespan: Number(pytorch.makespan.toFixed(4)), pipecMakespan: Number(pipec.makespan.toFixed(4)),
      pipecPlacement: ours.placement,
      speedup: Number((pytorch.makespan / pipec.makespan).toFixed(4)),
      headOfLineWait: { pytorch: Number(sum(pytorch.headOfLineWait).toFixed(3)), pipec: Number(sum(pipec.headOfLineWait).toFixed(3)) },
      deadlockFree: { pytorch: proofs[0], pipec: proofs[1] },
    });
  }
}
const programRows = programs.map((program) => {
  const theirs = pytorchOrders.get(program.csv)!;
  const ours = lowerCommunication(program.schedule, program.costs);
  const pytorch = simulateCommsOrder(theirs, program.costs).makespan;
  const pipec = simulateCommsOrder(ours, program.costs).makespan;
  return {
    sample: `samples/${program.sample}.pipe`, schedule: program.schedule.name, p: program.schedule.devices, m: program.schedule.microbatches, stages: program.schedule.stages,
    pytorchMs: Number((pytorch * 1e3).toFixed(3)), pipecMs: Number((pipec * 1e3).toFixed(3)), pipecPlacement: ours.placement,
    speedup: Number((pytorch / pipec).toFixed(4)),
    deadlockFree: { pytorch: proveCommsOrderDeadlockFree(theirs).deadlockFree, pipec: proveCommsOrderDeadlockFree(ours).deadlockFree },
  };
});
const slower = rows.filter((row) => row.pipecMakespan > row.pytorchMakespan + 1e-9).length;
const faster = rows.filter((row) => row.pipecMakespan < row.pytorchMakespan - 1e-9).length;
const best = rows.reduce((a, b) => (b.speedup > a.speedup ? b : a));
console.log(JSON.stringify({
  benchmark: 'comms',
  pytorch: pytorchSource,
  costs: 'F=I=W=1, B=2 per stage',
  links: links.map((l) => ({ ...l, link: Number(l.link.toPrecision(4)) })),
  clusterLinkSource: cluster.source,
  cases: rows.length, faster, slower, equal: rows.length - faster - slower,
  best: { schedule: best.schedule, p: best.p, m: best.m, v: best.v, link: best.link, speedup: best.speedup },
  rows,
  programs: programRows,
}, null, 2));
