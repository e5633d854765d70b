// GPU check: trains the transformer sample (and a wider variant) on the
// webgpu backend and on cpu, in-process, and prints step time and throughput
// as JSON; also verifies one pipelined step's gradients on webgpu against
// single-device training on webgpu. Bundled with esbuild to run where
// node_modules cannot travel (see docs/runtime.md):
//   node bench/gpuPrepare.ts .gpu/ir        # compile the sample and a wider variant
//   node bench/gpu.ts [--ir .gpu/ir] [--steps 20] [--backends webgpu,cpu]

import { readFileSync, writeFileSync } from 'node:fs';
import type { IrProgram } from '../compiler/index.ts';
import { isBackendName, listBackends, openSession, useBackend, verify, type BackendName } from '../runtime/index.ts';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] ? process.argv[index + 1] : fallback;
}

const irDirectory = argument('ir', '.gpu/ir');
const steps = Number(argument('steps', '20'));
const backends = argument('backends', 'webgpu,cpu').split(',').filter(isBackendName) as BackendName[];

// Compiled beforehand by bench/gpuPrepare.ts (the compiler's parser needs a newer Node than the GPU machine has).
const variants = (JSON.parse(readFileSync(`${irDirectory}/index.json`, 'utf8')) as { name: string; file: string; cpuSteps: number }[])
  .map((variant) => ({ ...variant, ir: JSON.parse(readFileSync(`${irDirectory}/${variant.file}`, 'utf8')) as IrProgram }));

async function measure(ir: IrProgram, backend: BackendName, timedSteps: number): Promise<Record<string, unknown>> {
  await useBackend(backend);
  const session = await openSession(ir, { backend, mode: 'in-process' });
  try {
    const losses: number[] = [];
    const times: number[] = [];
    // Warm-up steps (shader compilation, JIT) are not timed.
    const warmup = backend === 'cpu' ? 1 : 3;
    for (let step = 0; step < timedSteps + warmup; step++) {
      const summary = await session.step({ step, applyOptimizer: true, training: true, checkFinite: false });
      losses.push(summary.loss);
      if (step >= warmup) times.push(summary.seconds);
    }
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const tokens = ir.batch * (ir.model.input.shape[0] ?? 1);
    return { backend, steps: timedSteps, msPerStep: 1000 * mean, examplesPerSecond: ir.batch / mean, tokensPerSecond: tokens / mean, firstLoss: losses[0], lastLoss: losses[losses.length - 1] };
  } finally {
    await session.close();
  }
}

// Results are written after each measurement, so a run stopped at its time limit still reports what it measured.
const outputFile = argument('out', '');
const budgetSeconds = Number(argument('budget', '1e9'));
const started = performance.now();
const report: Record<string, unknown> = { benchmark: 'gpu', date: new Date().toISOString(), node: process.version, backends: await listBackends(), results: [] as unknown[] };
const flush = (): void => { if (outputFile) writeFileSync(outputFile, `${JSON.stringify(report, null, 2)}\n`); };
flush();
// GPU rows first (they are the point), then verification, then the slow cpu rows while time remains.
const plan = [...backends.filter((b) => b !== 'cpu').flatMap((backend) => variants.map((variant) => ({ backend, variant }))), 'verify' as const,
  ...backends.filter((b) => b === 'cpu').flatMap((backend) => variants.map((variant) => ({ backend, variant })))];
for (const item of plan) {
  if (item === 'verify') {
    if (!backends.includes('webgpu')) continue;
    try {
      const verdict = await verify(variants[0].ir, { backend: 'webgpu', mode: 'in-process', tolerance: 1e-4 });
      report.verifyOnWebgpu = { maxRelativeError: verdict.maxRelativeError, worst: verdict.worstParameter, pipelineLoss: verdict.pipelineLoss, referenceLoss: verdict.referenceLoss, peakSlots: verdict.peakSlots, predictedSlots: verdict.predictedSlots };
    } catch (error) {
      report.verifyOnWebgpu = { error: (error as Error).message };
    }
    flush();
    continue;
  }
  const { backend, variant } = item;
  if ((performance.now() - started) / 1000 > budgetSeconds) {
    (report.results as unknown[]).push({ model: variant.name, backend, skipped: 'time budget spent' });
    continue;
  }
  try {
    const result = await measure(variant.ir, backend, backend === 'cpu' ? Math.min(steps, variant.cpuSteps) : steps);
    (report.results as unknown[]).push({ model: variant.name, ...result });
  } catch (error) {
    (report.results as unknown[]).push({ model: variant.name, backend, error: (error as Error).message });
  }
  flush();
  process.stderr.write(`${variant.name} on ${backend} done after ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
}
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(0);
