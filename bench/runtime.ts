// Runtime benchmarks (prints JSON):
//  1. interpreter overhead: a 1-stage pipeline vs a plain TF.js training loop
//     (tf.variableGrads + SGD) of the same model on the same batches;
//  2. worker scaling: 2 workers running 1F1B on a compute-heavy model vs one
//     worker running the whole model;
//  3. measured bubble (from the trace) vs the simulator's prediction on costs
//     profiled in situ (and, for comparison, in isolation), when
//     compiler/simulate/simulate.ts exists.
// Usage: node bench/runtime.ts [--quick] [--only overhead|scaling|bubble]
//        [--workers N] [--microbatches M] [--batch B]   (scaling: N workers vs 1; default 2, 16, 128)

import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { compileFile, createMemoryHost, succeeded, type IrProgram } from '../compiler/index.ts';
import { BatchFeed, createDataset, dataShapes, initialValues, measuredBubble, openSession, profile, run, useBackend, type TraceEvent } from '../runtime/index.ts';

const quick = process.argv.includes('--quick');

function compileSource(text: string): IrProgram {
  const compiled = compileFile('/bench/program.pipe', createMemoryHost({ '/bench/program.pipe': text }));
  if (!succeeded(compiled)) throw new Error(`bench program does not compile: ${compiled.diagnostics.map((d) => d.message).join('; ')}${compiled.stop?.message ?? ''}`);
  return compiled.ir!;
}

function mlpSource(options: { inputs: number; width: number; hidden: number; classes: number; batch: number; microbatches: number; devices: number; schedule: string; optimizer: string }): string {
  // Balance the stages by the wide layers; the small output layer joins the last stage.
  const wide = ['fc_in', ...Array.from({ length: options.hidden }, (_, i) => `hidden[${i}]`)];
  const perStage = Math.ceil(wide.length / options.devices);
  const stages = Array.from({ length: options.devices }, (_, s) => {
    const members = wide.slice(s * perStage, (s + 1) * perStage);
    if (s === options.devices - 1) members.push('out');
    return `    s${s} on gpu[${s}] = ${members.join(', ')}`;
  });
  return `model mlp {
  input x: f32[batch, ${options.inputs}]
  target y: i32[batch]
  layer fc_in = Dense(units: ${options.width}, activation: relu)
  repeat i in 0..${options.hidden} {
    layer hidden[i] = Dense(units: ${options.width}, activation: relu)
  }
  layer out = Dense(units: ${options.classes})
  loss softmax_cross_entropy(out, y)
}
cluster local {
  device gpu[0..${options.devices}] memory 16GiB speed 100TFLOPS
  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us
}
pipeline bench {
  model mlp
  cluster local
  batch ${options.batch} microbatches ${options.microbatches}
  stages {
${stages.join('\n')}
  }
  schedule ${options.schedule}
  optimizer ${options.optimizer}
  data synthetic(examples: 2048, seed: 1)
}
`;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The same model as a plain TF.js loop: variables, tf.variableGrads, SGD. */
async function plainLoopStepSeconds(ir: IrProgram, steps: number): Promise<number[]> {
  const dataset = createDataset(ir.data, dataShapes(ir), process.cwd());
  const feed = new BatchFeed(dataset, ir.seed, ir.microbatchSize, ir.microbatches, ir.replicas);
  const lr = ir.optimizer.args.lr;
  const layers = ir.model.layers.map((layer) => {
    const inputs = layer.inputShape[layer.inputShape.length - 1];
    const units = Number(layer.args.units);
    const kernel = tf.variable(tf.tensor(initialValues({ name: `${layer.name}/kernel`, shape: [inputs, units], init: { kind: 'glorot_uniform', fanIn: inputs, fanOut: units } }, ir.seed), [inputs, units]));
    const bias = tf.variable(tf.zeros([units]));
    return { kernel, bias, relu: layer.args.activation === 'relu' };
  });
  const times: number[] = [];
  for (let step = 0; step < steps; step++) {
    const batch = feed.examples(step, 0, feed.batchSize);
    const started = performance.now();
    const x = tf.tensor(batch.input, [feed.batchSize, ...ir.model.input.shape]);
    const y = tf.tensor(batch.target, [feed.batchSize], 'int32');
    const { value, grads } = tf.variableGrads(() => {
      let h: tf.Tensor = x;
      for (const layer of layers) {
        h = tf.add(tf.matMul(h, layer.kernel), layer.bias);
        if (layer.relu) h = tf.relu(h);
      }
      return tf.losses.softmaxCrossEntropy(tf.oneHot(y, h.shape[1]!), h) as tf.Scalar;
    });
    tf.tidy(() => {
      for (const layer of layers) {
        layer.kernel.assign(tf.sub(layer.kernel, tf.mul(grads[layer.kernel.name], lr)));
        layer.bias.assign(tf.sub(layer.bias, tf.mul(grads[layer.bias.name], lr)));
      }
    });
    await value.data();
    tf.dispose([x, y, value, grads]);
    times.push((performance.now() - started) / 1000);
  }
  for (const layer of layers) tf.dispose([layer.kernel, layer.bias]);
  return times;
}

async function pipelineStepSeconds(ir: IrProgram, steps: number, checkFinite: boolean): Promise<number[]> {
  const session = await openSession(ir, { mode: 'in-process', backend: 'cpu' });
  const times: number[] = [];
  try {
    for (let step = 0; step < steps; step++) times.push((await session.step({ step, applyOptimizer: true, training: true, checkFinite })).seconds);
  } finally {
    await session.close();
  }
  return times;
}

async function interpreterOverhead(): Promise<Record<string, unknown>> {
  await useBackend('cpu');
  const ir = compileSource(mlpSource({ inputs: 784, width: 256, hidden: 2, classes: 10, batch: 64, microbatches: 1, devices: 1, schedule: 'gpipe', optimizer: 'sgd(lr: 0.05)' }));
  const steps = quick ? 8 : 25;
  // Interleave the three measurements so machine load drifts hit all alike.
  const plain: number[] = [];
  const pipelined: number[] = [];
  const pipelinedUnchecked: number[] = [];
  for (let round = 0; round < 3; round++) {
    plain.push(...(await plainLoopStepSeconds(ir, steps)).slice(2));
    pipelined.push(...(await pipelineStepSeconds(ir, steps, true)).slice(2));
    pipelinedUnchecked.push(...(await pipelineStepSeconds(ir, steps, false)).slice(2));
  }
  const plainMedian = median(plain);
  return {
    name: 'interpreter overhead: 1-stage pipeline vs plain TF.js loop (MLP 784-256-256-256-10, batch 64, cpu)',
    plainLoopMsPerStep: 1000 * plainMedian,
    pipelineMsPerStep: 1000 * median(pipelined),
    pipelineWithoutNanChecksMsPerStep: 1000 * median(pipelinedUnchecked),
    overhead: median(pipelined) / plainMedian - 1,
    overheadWithoutNanChecks: median(pipelinedUnchecked) / plainMedian - 1,
    target: '<= 0.05',
  };
}

function numericArgument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} takes a positive integer, got '${process.argv[index + 1]}'`);
  return value;
}

// The targets: 2 workers >= 1.6x on the 2-core CI machine, 4 workers >= 3x on the 16-core GPU machine.
const scalingTargets: Record<number, string> = { 2: '>= 1.6 on 2 cores', 4: '>= 3 on 16 cores' };

async function workerScaling(): Promise<Record<string, unknown>> {
  // --workers N compares N workers with one; --microbatches / --batch change the pipeline's length (same microbatch size when scaled together).
  const workers = numericArgument('workers', 2);
  const microbatches = numericArgument('microbatches', 16);
  const batch = numericArgument('batch', 128);
  const shape = { inputs: 512, width: 512, hidden: 7, classes: 10, batch, microbatches, optimizer: 'sgd(lr: 0.01)' };
  const one = compileSource(mlpSource({ ...shape, devices: 1, schedule: '1f1b' }));
  const many = compileSource(mlpSource({ ...shape, devices: workers, schedule: '1f1b' }));
  const steps = quick ? 4 : 7;
  const throughput = async (ir: IrProgram): Promise<number> => {
    const result = await run(ir, { mode: 'workers', steps, checkFinite: false });
    // Skip the first two steps (worker start, JIT warm-up: the second step is still ~20% slow).
    const timed = result.steps.slice(2);
    return (timed.length * ir.batch) / timed.reduce((sum, r) => sum + r.seconds, 0);
  };
  const single = await throughput(one);
  const pipelined = await throughput(many);
  // 1F1B's bubble bounds the speed-up at p * m / (m + p - 1) even with free hand-offs.
  const idealSpeedup = (workers * microbatches) / (microbatches + workers - 1);
  return {
    name: `worker scaling: 1F1B on ${workers} workers vs the whole model on 1 worker (MLP: 8 dense layers of 512, batch ${batch}, m=${microbatches}, cpu)`,
    workers, microbatches, batch,
    oneWorkerExamplesPerSecond: single,
    pipelinedExamplesPerSecond: pipelined,
    speedup: pipelined / single,
    idealSpeedup,
    target: scalingTargets[workers] ?? 'none set',
    cores: (await import('node:os')).availableParallelism(),
  };
}

async function bubbleVersusSimulator(): Promise<Record<string, unknown> | undefined> {
  const simulatorPath = new URL('../compiler/simulate/simulate.ts', import.meta.url);
  if (!existsSync(simulatorPath)) return undefined;
  const { simulateIr } = await import(simulatorPath.href) as typeof import('../compiler/simulate/simulate.ts');
  // Two devices on two cores: each worker has a core, so the trace shows the schedule, not the OS scheduler.
  const ir = compileSource(mlpSource({ inputs: 512, width: 512, hidden: 7, classes: 10, batch: 128, microbatches: 16, devices: 2, schedule: '1f1b', optimizer: 'sgd(lr: 0.01)' }));
  // The trace's bubble spans compute events only (trace.ts measuredBubble); read the simulated timeline the same way.
  const computeBubble = (costs: Parameters<typeof simulateIr>[1]): number => {
    const simulated = simulateIr(ir, costs);
    const compute = simulated.devices.flatMap((d) => d.timeline).filter((t) => ['F', 'B', 'I', 'W', 'recompute'].includes(t.kind));
    const start = Math.min(...compute.map((t) => t.start));
    const end = Math.max(...compute.map((t) => t.end));
    const busy = compute.reduce((sum, t) => sum + t.end - t.start, 0);
    return 1 - busy / (simulated.devices.length * (end - start));
  };
  const inSitu = await profile(ir, { repeats: quick ? 2 : 5, mode: 'workers' });
  const isolated = await profile(ir, { repeats: quick ? 3 : 5, isolated: true });
  const predicted = computeBubble(inSitu.costs);
  const predictedIsolated = computeBubble(isolated.costs);
  const result = await run(ir, { mode: 'workers', steps: quick ? 3 : 6, trace: true, checkFinite: false });
  // One step's bubble moves with the machine's load; take the median over the steps after the warm-up step.
  const perStep = new Map<number, TraceEvent[]>();
  for (const event of result.trace?.traceEvents ?? []) {
    const step = event.args?.step;
    if (typeof step === 'number' && step > 0) perStep.set(step, [...(perStep.get(step) ?? []), event]);
  }
  const stepBubbles = [...perStep.values()].map((events) => measuredBubble(events, ir.devices.length));
  const measured = stepBubbles.length > 0 ? median(stepBubbles) : result.measuredBubble;
  const ms = (seconds: number): number => Math.round(seconds * 1e5) / 100;
  const summary = (costs: typeof inSitu.costs) => ({
    forwardMs: costs.stages.map((t) => ms(t.forward)), backwardMs: costs.stages.map((t) => ms(t.backward)),
    sendActivationMs: costs.sendActivation.map(ms), sendGradientMs: costs.sendGradient.map(ms),
    ...(costs.sendActivationOverhead ? { sendActivationOverheadMs: costs.sendActivationOverhead.map(ms) } : {}),
    ...(costs.sendGradientOverhead ? { sendGradientOverheadMs: costs.sendGradientOverhead.map(ms) } : {}),
  });
  return {
    name: 'measured bubble (median over the traced steps after the first, 2 workers) vs the simulator on costs profiled in situ (pipec profile) and in isolation (--isolated) (1F1B, p=2, m=16)',
    measured, measuredPerStep: stepBubbles, predicted, predictedIsolated,
    relativeDifference: measured !== undefined ? Math.abs(measured - predicted) / predicted : null,
    relativeDifferenceIsolated: measured !== undefined ? Math.abs(measured - predictedIsolated) / predictedIsolated : null,
    inSituCosts: summary(inSitu.costs), isolatedCosts: summary(isolated.costs),
    target: 'within 10%',
  };
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const results: Record<string, unknown>[] = [];
if (!only || only === 'overhead') results.push(await interpreterOverhead());
if (!only || only === 'scaling') results.push(await workerScaling());
if (!only || only === 'bubble') {
  const bubble = await bubbleVersusSimulator();
  results.push(bubble ?? { name: 'measured bubble vs simulator', skipped: 'compiler/simulate/simulate.ts is not in this checkout' });
}
process.stdout.write(`${JSON.stringify({ benchmark: 'runtime', date: new Date().toISOString(), results }, null, 2)}\n`);
