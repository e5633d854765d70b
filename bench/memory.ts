// Activation memory and bubble of 1F1B, ZB-H1, ZB-V, V-Half and V-Min
// against the papers' figures, and the bytes a real run's stash holds next
// to the compiler's prediction and the simulator's peak.
//   node bench/memory.ts            (prints one JSON document)
//
// Part 1, unit costs (F = I = W = 1 per chunk, B = 2): the peak of full
// stashes (a forward's stash from F until I, W's part not counted, as the
// controllable-memory paper counts) in microbatches of a device's layers,
// relative to 1F1B's p, and the bubble 1 − busy ÷ makespan. The papers'
// figures: 1F1B p and (p−1)/(m+p−1); ZB-H1 p and (p−1)/(3m+p−1) (Qi et al.
// 2023, F = B = W); ZB-V p and ≈ 0; V-Half ⌊(p+2)/2⌋ and ≈ p/2m; V-Min
// ⌊(p+4)/3⌋ and ≈ 2p/3m (Qi et al. 2024).
//
// Part 2, a real run: the MLP of test/runtime/schedules.test.ts (Dense
// layers; p = 4, m = 8) compiled for each schedule, one verify step on the
// cpu backend: per device the most bytes the runtime's stash held, the
// compiler's prediction (IrDevice.memory.activations) and the simulator's
// peak under the derived cost model; the table shows the largest device.

import {
  builtinSchedule, compileFile, createMemoryHost, peakActivationBytes, simulateCompilation, succeeded, timeSchedule,
} from '../compiler/index.ts';
import { readExternModule, verify } from '../runtime/index.ts';

type Family = { readonly name: string; readonly label: string; readonly chunks: 1 | 2; readonly placement: 'loop' | 'v' };
const FAMILIES: readonly Family[] = [
  { name: '1f1b', label: '1F1B', chunks: 1, placement: 'loop' },
  { name: 'zb_h1', label: 'ZB-H1', chunks: 1, placement: 'loop' },
  { name: 'zb_v', label: 'ZB-V', chunks: 2, placement: 'v' },
  { name: 'v_half', label: 'V-Half', chunks: 2, placement: 'v' },
  { name: 'v_min', label: 'V-Min', chunks: 2, placement: 'v' },
];

function paperFigures(name: string, p: number, m: number): { memory: number; bubble: number; bubbleWords: string } {
  switch (name) {
    case '1f1b': return { memory: p, bubble: (p - 1) / (m + p - 1), bubbleWords: '(p−1)/(m+p−1)' };
    case 'zb_h1': return { memory: p, bubble: (p - 1) / (3 * m + p - 1), bubbleWords: '(p−1)/(3m+p−1)' };
    case 'zb_v': return { memory: p, bubble: 0, bubbleWords: '≈ 0' };
    case 'v_half': return { memory: Math.floor((p + 2) / 2), bubble: p / (2 * m), bubbleWords: '≈ p/2m' };
    default: return { memory: Math.floor((p + 4) / 3), bubble: (2 * p) / (3 * m), bubbleWords: '≈ 2p/3m' };
  }
}

function unitCase(family: Family, p: number, m: number) {
  const built = builtinSchedule(family.name, { devices: p, microbatches: m, stagesPerDevice: family.chunks });
  if (!built.schedule) throw new Error(`${family.name}: ${built.diagnostics.map((d) => d.message).join('; ')}`);
  const schedule = built.schedule;
  const chunk = 1 / family.chunks;
  const memory = Math.max(...peakActivationBytes(schedule, Array.from({ length: schedule.stages }, () => ({ activationBytes: chunk, weightGradientBytes: 0 }))));
  const makespan = timeSchedule(schedule).makespan;
  const bubble = 1 - (3 * m * family.chunks) / makespan;
  return { schedule: family.label, p, m, memory, bubble, makespan, paper: paperFigures(family.name, p, m) };
}

function mlpProgram(family: Family): string {
  const stages = family.chunks * 4;
  const hidden = Math.max(6, stages - 2);
  const layers = ['fc_in', ...Array.from({ length: hidden }, (_, i) => `hidden[${i}]`), 'out'];
  const perStage = layers.length / stages;
  const groups = Array.from({ length: stages }, (_, s) => layers.slice(s * perStage, (s + 1) * perStage));
  return `model mlp {
  input x: f32[batch, 12]
  target y: i32[batch]
  layer fc_in = Dense(units: 16, activation: relu)
  repeat i in 0..${hidden} {
    layer hidden[i] = Dense(units: 16, activation: gelu)
  }
  layer out = Dense(units: 5)
  loss softmax_cross_entropy(out, y)
}
cluster local {
  device gpu[0..4] memory 16GiB speed 100TFLOPS
  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us
}
pipeline p {
  model mlp
  cluster local
  batch 32 microbatches 8
  stages placement ${family.placement} {
${groups.map((group, s) => `    s${s} = ${group.join(', ')}`).join('\n')}
  }
  schedule ${family.name}
  optimizer adam(lr: 1e-3)
  data synthetic(examples: 512, seed: 3)
  seed 5
}
`;
}

async function realRun(family: Family) {
  const file = 'bench-memory.pipe';
  const compiled = compileFile(file, createMemoryHost({ [file]: mlpProgram(family) }), { readExternModule });
  if (!succeeded(compiled) || !compiled.ir) throw new Error(`${family.name}: ${compiled.diagnostics.map((d) => d.message).join('; ')}`);
  const simulated = simulateCompilation(compiled);
  const result = await verify(compiled.ir, { baseDirectory: process.cwd() });
  const simulatedPeak = simulated?.result.devices.map((device) => device.memory.activations) ?? [];
  return {
    schedule: family.label,
    measured: result.peakActivationBytes,
    predicted: result.predictedActivationBytes,
    simulated: simulatedPeak,
    equal: result.peakActivationBytes.every((bytes, d) => bytes === result.predictedActivationBytes[d] && bytes === simulatedPeak[d]),
    maxRelativeError: result.maxRelativeError,
  };
}

const unit = [[4, 8], [8, 16]].flatMap(([p, m]) => FAMILIES.map((family) => unitCase(family, p, m)));
const real = [];
for (const family of FAMILIES) real.push(await realRun(family));
process.stdout.write(`${JSON.stringify({ benchmark: 'memory', unit, real }, null, 2)}\n`);
