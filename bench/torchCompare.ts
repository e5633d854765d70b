// "pipec vs PyTorch on the same model" (prints JSON): the model of
// samples/mlp.pipe (784-256-256-256-10, Adam, batch 64) trained for 200
// steps, on one device and as the sample's 4-stage 1F1B pipeline with 8
// microbatches, by pipec on the cpu and wasm backends and by PyTorch CPU in
// one process and with its own Schedule1F1B over 4 gloo processes
// (bench/torch/torch_mlp_throughput.py, from the venv of
// scripts/torch-venv.sh; skipped with the reason where it is missing).
//
// The machine's load drifts (other processes share the cores), so every
// contender runs once per round, interleaved, and the ratios come from the
// same run. Throughput skips the first --warmup steps on both sides.
//
// Usage: node bench/torchCompare.ts [--steps 200] [--rounds 1] [--warmup 10] [--quick] [--skip-cpu]
//   (--skip-cpu leaves out pipec's cpu backend, the slowest contender, to afford more rounds)

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFile, createMemoryHost, succeeded, type IrProgram } from '../compiler/index.ts';
import { run, type BackendName, type ExecutionMode } from '../runtime/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quick = process.argv.includes('--quick');

function numericArgument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} takes a non-negative integer, got '${process.argv[index + 1]}'`);
  return value;
}

const steps = numericArgument('steps', quick ? 40 : 200);
const warmup = numericArgument('warmup', quick ? 5 : 10);
const rounds = numericArgument('rounds', 1);
if (warmup >= steps) throw new Error('--warmup must be below --steps');

// The machine's fp32 peak on these 2 cores (AVX2 FMA: 2 × 8 lanes × 2 flops per cycle per core,
// at the all-core clock) and what a tuned sgemm reaches here, as the issue measured them.
const PEAK_GFLOPS = { theoretical: 330, sgemm: 200 };

const sampleText = readFileSync(path.join(root, 'samples/mlp.pipe'), 'utf8');

/** The sample's pipeline with its stage block and microbatch count replaced: the same model, data and optimizer. */
function variant(stages: string | undefined, microbatches: number | undefined): string {
  let text = sampleText;
  if (stages !== undefined) {
    const replaced = text.replace(/stages \{[^}]*\}/, `stages {\n    ${stages}\n  }`);
    if (replaced === text) throw new Error('samples/mlp.pipe has no stages block to replace');
    text = replaced;
  }
  if (microbatches !== undefined) {
    const replaced = text.replace(/batch 64 microbatches \d+/, `batch 64 microbatches ${microbatches}`);
    if (replaced === text) throw new Error("samples/mlp.pipe no longer says 'batch 64 microbatches N'");
    text = replaced;
  }
  return text;
}

function compileText(text: string): IrProgram {
  const compiled = compileFile('/bench/mlp.pipe', createMemoryHost({ '/bench/mlp.pipe': text }));
  if (!succeeded(compiled)) throw new Error(`bench program does not compile: ${compiled.diagnostics.map((d) => d.message).join('; ')}${compiled.stop?.message ?? ''}`);
  return compiled.ir!;
}

const pipelineIr = compileText(sampleText);
const singleIr = compileText(variant('s0 on worker[0] = fc1, hidden[0], hidden[1], out', 1));

/** Multiply-adds of one example's forward through the Dense layers; training costs 3 × that (F, dX, dW), 2 flops each. */
function trainingFlopsPerExample(ir: IrProgram): number {
  let macs = 0;
  for (const layer of ir.model.layers) {
    if (layer.operator !== 'Dense') throw new Error(`the bench counts Dense layers only, not ${layer.operator}`);
    macs += layer.inputShape[layer.inputShape.length - 1] * Number(layer.args.units);
  }
  return 3 * 2 * macs;
}
const flopsPerExample = trainingFlopsPerExample(pipelineIr);

interface Measurement { readonly examplesPerSecond: number; readonly finalLoss: number; readonly detail?: Record<string, unknown> }

async function pipec(ir: IrProgram, backend: BackendName, mode: ExecutionMode): Promise<Measurement> {
  // What `pipec train` runs: NaN checks on, the sample's mnist data.
  const result = await run(ir, { backend, mode, steps, baseDirectory: root, evalExamples: 64 });
  const timed = result.steps.slice(warmup);
  const seconds = timed.reduce((sum, record) => sum + record.seconds, 0);
  return { examplesPerSecond: (timed.length * ir.batch) / seconds, finalLoss: result.steps[result.steps.length - 1].loss };
}

const torchVenv = process.env.PIPEC_TORCH_VENV ?? path.join(root, '.venv-torch');
const torchPython = path.join(torchVenv, 'bin/python');
const torchSkipped = existsSync(torchPython) ? undefined : `no PyTorch venv at ${torchVenv} (bash scripts/torch-venv.sh makes one)`;

function torch(mode: 'single' | 'pipeline', threads?: number): Measurement {
  const stdout = execFileSync(torchPython, [
    path.join(root, 'bench/torch/torch_mlp_throughput.py'), '--mode', mode, '--steps', String(steps), '--warmup', String(warmup),
    ...(threads === undefined ? [] : ['--threads', String(threads)]),
  ], {
    cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000,
  });
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  return { examplesPerSecond: Number(report.examplesPerSecond), finalLoss: Number(report.finalLoss), detail: report };
}

interface Contender { readonly key: string; readonly what: string; readonly measure: () => Promise<Measurement> | Measurement }

const skipCpu = process.argv.includes('--skip-cpu');
const allContenders: Contender[] = [
  ...(torchSkipped ? [] : [
    { key: 'torchSingle', what: 'PyTorch, one process (all cores), batch 64', measure: () => torch('single') },
    // pipec's wasm backend computes on one thread; so does this one (and it does not collapse when other processes hold the cores).
    { key: 'torchSingleOneThread', what: 'PyTorch, one process, one thread, batch 64', measure: () => torch('single', 1) },
  ]),
  { key: 'pipecSingleWasm', what: 'pipec wasm, 1 stage, batch 64 (1 microbatch)', measure: () => pipec(singleIr, 'wasm', 'in-process') },
  { key: 'pipecSingleCpu', what: 'pipec cpu, 1 stage, batch 64 (1 microbatch)', measure: () => pipec(singleIr, 'cpu', 'in-process') },
  ...(torchSkipped ? [] : [{ key: 'torchPipeline', what: 'PyTorch Schedule1F1B, 4 gloo processes, 8 microbatches', measure: () => torch('pipeline') }]),
  { key: 'pipecPipelineWasmWorkers', what: 'pipec wasm, 4-stage 1F1B, 8 microbatches, 4 worker threads', measure: () => pipec(pipelineIr, 'wasm', 'workers') },
  { key: 'pipecPipelineWasmInProcess', what: 'pipec wasm, 4-stage 1F1B, 8 microbatches, one thread', measure: () => pipec(pipelineIr, 'wasm', 'in-process') },
  { key: 'pipecPipelineCpu', what: 'pipec cpu, 4-stage 1F1B, 8 microbatches, one thread', measure: () => pipec(pipelineIr, 'cpu', 'in-process') },
];

const contenders = skipCpu ? allContenders.filter((c) => !c.key.endsWith('Cpu')) : allContenders;

const samples = new Map<string, Measurement[]>(contenders.map((c) => [c.key, []]));
const loadAverages: number[] = [loadavg()[0]];
for (let round = 0; round < rounds; round++) {
  for (const contender of contenders) {
    process.stderr.write(`torchCompare: round ${round + 1}/${rounds}: ${contender.what}\n`);
    samples.get(contender.key)!.push(await contender.measure());
  }
  loadAverages.push(loadavg()[0]);
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const figures: Record<string, Record<string, unknown>> = {};
for (const contender of contenders) {
  const runs = samples.get(contender.key)!;
  const examplesPerSecond = median(runs.map((r) => r.examplesPerSecond));
  figures[contender.key] = {
    what: contender.what,
    examplesPerSecond,
    gflops: (examplesPerSecond * flopsPerExample) / 1e9,
    perRound: runs.map((r) => Math.round(r.examplesPerSecond)),
    finalLoss: runs[runs.length - 1].finalLoss,
    ...(runs[runs.length - 1].detail ? { torch: runs[runs.length - 1].detail!.torch, threads: runs[runs.length - 1].detail!.threads } : {}),
  };
}
const rate = (key: string): number | undefined => figures[key]?.examplesPerSecond as number | undefined;
const ratio = (ours: string, theirs: string): number | null => {
  const a = rate(ours);
  const b = rate(theirs);
  return a !== undefined && b !== undefined ? a / b : null;
};

process.stdout.write(`${JSON.stringify({
  benchmark: 'torchCompare',
  name: 'pipec vs PyTorch on the same model',
  date: new Date().toISOString(),
  model: 'samples/mlp.pipe: Dense 784-256-256-256-10, adam(lr: 1e-3), batch 64',
  steps, warmup, rounds,
  cores: availableParallelism(),
  loadAverages,
  trainingFlopsPerExample: flopsPerExample,
  peakGflops: PEAK_GFLOPS,
  figures,
  ratios: {
    singleWasmVsTorch: ratio('pipecSingleWasm', 'torchSingle'),
    singleWasmVsTorchOneThread: ratio('pipecSingleWasm', 'torchSingleOneThread'),
    singleCpuVsTorch: ratio('pipecSingleCpu', 'torchSingle'),
    pipelineWasmWorkersVsTorch: ratio('pipecPipelineWasmWorkers', 'torchPipeline'),
    pipelineWasmInProcessVsTorch: ratio('pipecPipelineWasmInProcess', 'torchPipeline'),
    pipelineCpuVsTorch: ratio('pipecPipelineCpu', 'torchPipeline'),
  },
  targets: { single: '>= 0.3 × one PyTorch process', pipeline: ">= 1 × PyTorch's own 4-process pipeline" },
  ...(torchSkipped ? { torchSkipped } : {}),
}, null, 2)}\n`);
