// CPU time per training step of the MLP sample (prints one JSON line), the
// before/after measure of docs/runtime.md "Speed on CPUs": an in-process
// session, 10 untimed steps, then `--steps` timed ones, read with
// process.cpuUsage(), which the other processes on shared cores disturb far
// less than wall time. `--root DIR` runs another checkout's compiler and
// runtime (e.g. `git archive 27a6c9f | tar -x -C /tmp/before`, with its
// node_modules linked), so before and after can be interleaved:
//
//   for r in 1 2 3; do node bench/stepCpuTime.ts --root /tmp/before; node bench/stepCpuTime.ts; done
//
// Usage: node bench/stepCpuTime.ts [--backend wasm|cpu] [--steps 100] [--single] [--root DIR]
//   --single: the sample's model as one stage with one microbatch (default: the sample's 4-stage 1F1B, m = 8)

import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argument = (name: string): string | undefined => {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? undefined : process.argv[index + 1];
};
const root = path.resolve(argument('root') ?? here);
const backend = argument('backend') ?? 'wasm';
const steps = Number(argument('steps') ?? 100);
const single = process.argv.includes('--single');
const warmup = 10;
if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps takes a positive integer, got '${argument('steps')}'`);

const compiler = await import(pathToFileURL(path.join(root, 'compiler/index.ts')).href) as typeof import('../compiler/index.ts');
const runtime = await import(pathToFileURL(path.join(root, 'runtime/index.ts')).href) as typeof import('../runtime/index.ts');

let text = readFileSync(path.join(root, 'samples/mlp.pipe'), 'utf8');
if (single) {
  const restaged = text.replace(/stages \{[^}]*\}/, 'stages {\n    s0 on worker[0] = fc1, hidden[0], hidden[1], out\n  }').replace(/microbatches \d+/, 'microbatches 1');
  if (restaged === text) throw new Error('samples/mlp.pipe has no stages block to replace');
  text = restaged;
}
const compiled = compiler.compileFile('/bench/mlp.pipe', compiler.createMemoryHost({ '/bench/mlp.pipe': text }));
if (!compiler.succeeded(compiled)) throw new Error('the MLP sample does not compile');
const ir = compiled.ir!;
const session = await runtime.openSession(ir, { backend: backend as import('../runtime/index.ts').BackendName, mode: 'in-process', baseDirectory: root });
const options = (step: number) => ({ step, applyOptimizer: true, training: true, checkFinite: true });
try {
  for (let step = 0; step < warmup; step++) await session.step(options(step));
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let step = warmup; step < warmup + steps; step++) await session.step(options(step));
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000 / steps;
  process.stdout.write(`${JSON.stringify({
    root, backend, model: single ? 'one stage, 1 microbatch' : 'sample: 4-stage 1F1B, 8 microbatches', steps,
    cpuMsPerStep: cpuMs, wallMsPerStep: (performance.now() - started) / steps,
    examplesPerCpuSecond: (ir.batch * 1000) / cpuMs, loadAverage: loadavg()[0],
  })}\n`);
} finally {
  await session.close();
}
