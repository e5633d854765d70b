// A training session runs all devices of an IrProgram step by step, either
// in this thread (in-process) or on worker threads (runtime/workers.ts).

import * as tf from '@tensorflow/tfjs-core';
import type { IrProgram } from '../compiler/ir/types.ts';
import { BatchFeed, createDataset, dataShapes, type Dataset } from './data/index.ts';
import { DeviceHost, type StageState } from './deviceHost.ts';
import type { StepOptions, StepReport } from './interpreter.ts';
import { InProcessTransport } from './inProcess.ts';
import type { ExternRegistry } from './layers/registry.ts';
import type { Tensor } from './layers/types.ts';
import { RuntimeFault } from './messages.ts';
import { deviceOfStage, joinVocabShards, oneCopyStages, takeSkipsInto, vocabShardStages } from './model.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';

export type SessionStepOptions = Omit<StepOptions, 'fault'> & { readonly fault?: StepOptions['fault'] };

export interface StepSummary {
  readonly step: number;
  /** Mean training loss of the step's global batch. */
  readonly loss: number;
  /** Training accuracy of the step's batch (classification), or NaN. */
  readonly accuracy: number;
  readonly reports: readonly StepReport[];
  readonly seconds: number;
}

export interface Evaluation {
  readonly loss: number;
  readonly accuracy: number;
  readonly examples: number;
}

export interface TrainingSession {
  readonly ir: IrProgram;
  readonly dataset: Dataset;
  step(options: SessionStepOptions): Promise<StepSummary>;
  /** Accumulated gradients of replica 0, by parameter name. */
  gradients(): Promise<Record<string, Float32Array>>;
  clearGradients(): Promise<void>;
  /** Parameters and optimizer state of every stage (from replica 0). */
  state(): Promise<Record<number, StageState>>;
  loadState(state: Readonly<Record<number, StageState>>): Promise<void>;
  evaluate(maxExamples?: number): Promise<Evaluation>;
  close(): Promise<void>;
}

export function summarize(ir: IrProgram, step: number, reports: readonly StepReport[], seconds: number): StepSummary {
  // Each replica's losses sum to its batch mean (scaled by 1/microbatches); average over replicas.
  const loss = reports.reduce((sum, r) => sum + r.loss, 0) / ir.replicas;
  const counted = reports.reduce((sum, r) => sum + r.counted, 0);
  const correct = reports.reduce((sum, r) => sum + r.correct, 0);
  return { step, loss, accuracy: counted > 0 ? correct / counted : Number.NaN, reports, seconds };
}

/** Loss and accuracy of the model's output on a batch of test examples (read asynchronously: GPU backends cannot read synchronously in Node). */
/**
 * Loss and accuracy on the held-out examples, in chunks, with the forward
 * pass through the pipeline supplied by the execution mode (in-process hosts
 * or worker threads), which owns the input tensor it is given.
 */
export async function evaluateHeldOut(
  ir: IrProgram,
  dataset: Dataset,
  maxExamples: number,
  forwardThroughPipeline: (input: Tensor) => Promise<Tensor>,
): Promise<Evaluation> {
  const total = Math.min(dataset.testSize, maxExamples);
  const chunk = Math.max(ir.microbatchSize, 250);
  const model = ir.model;
  let loss = 0;
  let correct = 0;
  let count = 0;
  for (let start = 0; start < total; start += chunk) {
    const end = Math.min(total, start + chunk);
    const batch = dataset.testExamples(start, end);
    const input = tf.tensor(batch.input, [end - start, ...model.input.shape], model.input.dtype === 'i32' ? 'int32' : 'float32');
    const output = await forwardThroughPipeline(input);
    const target = tf.tensor(batch.target, [end - start, ...model.target.shape], model.target.dtype === 'i32' ? 'int32' : 'float32');
    const score = await scoreOutput(output, target, model.loss);
    output.dispose();
    target.dispose();
    loss += score.loss;
    correct += score.correct;
    count += score.count;
  }
  return { loss: count > 0 ? loss / count : Number.NaN, accuracy: count > 0 ? correct / count : Number.NaN, examples: total };
}

export async function scoreOutput(output: Tensor, target: Tensor, lossName: string): Promise<{ loss: number; correct: number; count: number }> {
  const [loss, correct, count] = tf.tidy(() => {
    if (lossName === 'mse') {
      return [tf.sum(tf.square(tf.sub(output, tf.cast(target, 'float32')))), tf.scalar(0), tf.scalar(output.size)];
    }
    const classes = output.shape[output.rank - 1];
    const logits = tf.reshape(output, [-1, classes]);
    const labels = tf.reshape(tf.cast(target, 'int32'), [-1]);
    return [
      tf.neg(tf.sum(tf.mul(tf.oneHot(labels, classes), tf.logSoftmax(logits)))),
      tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')),
      tf.scalar(labels.shape[0]),
    ];
  });
  const values = await Promise.all([loss, correct, count].map(async (t) => (await t.data())[0]));
  tf.dispose([loss, correct, count]);
  return { loss: values[0], correct: values[1], count: values[2] };
}

export interface InProcessOptions {
  readonly baseDirectory: string;
  readonly externs: ExternRegistry;
  readonly dataset?: Dataset;
}

export class InProcessSession implements TrainingSession {
  readonly ir: IrProgram;
  readonly dataset: Dataset;
  private readonly feed: BatchFeed;
  private hosts: DeviceHost[] = [];
  private readonly externs: ExternRegistry;
  private readonly transport: InProcessTransport;

  constructor(ir: IrProgram, options: InProcessOptions) {
    this.ir = ir;
    this.externs = options.externs;
    this.dataset = options.dataset ?? createDataset(ir.data, dataShapes(ir), options.baseDirectory);
    this.feed = new BatchFeed(this.dataset, ir.seed, ir.microbatchSize, ir.microbatches, ir.replicas);
    this.transport = new InProcessTransport(new Map(ir.devices.map((d) => [d.index, d.name])));
  }

  private ensureBuilt(): DeviceHost[] {
    if (this.hosts.length === 0) {
      this.hosts = this.ir.devices.map((device) => new DeviceHost(this.ir, device.index, this.externs, this.feed, this.transport));
    }
    return this.hosts;
  }

  async step(options: SessionStepOptions): Promise<StepSummary> {
    const transport = this.transport;
    transport.begin();
    const hosts = this.ensureBuilt();
    const started = performance.now();
    let failure: unknown;
    const reports = await Promise.all(hosts.map(async (host) => {
      try {
        return await host.runStep(options);
      } catch (error) {
        failure ??= error;
        return undefined;
      } finally {
        transport.finished();
      }
    }));
    const leftover = transport.dispose();
    if (failure) throw failure;
    if (leftover > 0) throw new RuntimeFault(diagnosticMessages.runtimeInternal, `${leftover} message(s) were sent but never received`);
    return summarize(this.ir, options.step, reports as StepReport[], (performance.now() - started) / 1000);
  }

  async gradients(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const host of this.hosts.filter((h) => h.interpreter.device.replica === 0)) Object.assign(out, await host.gradients());
    return joinVocabShards(this.ir, out);
  }

  async clearGradients(): Promise<void> {
    for (const host of this.hosts) host.clearGradients();
  }

  async state(): Promise<Record<number, StageState>> {
    this.ensureBuilt();
    const out: Record<number, StageState> = {};
    for (const host of this.hosts.filter((h) => h.interpreter.device.replica === 0)) Object.assign(out, await host.state());
    return out;
  }

  async loadState(state: Readonly<Record<number, StageState>>): Promise<void> {
    this.ensureBuilt();
    for (const host of this.hosts) host.loadState(state);
  }

  async evaluate(maxExamples = Number.POSITIVE_INFINITY): Promise<Evaluation> {
    this.ensureBuilt();
    return evaluateHeldOut(this.ir, this.dataset, maxExamples, async (input) => {
      let activation = input;
      // Skips in flight between stages, by edge: each stage takes the ones its merges read.
      const skips = new Map<number, Tensor>();
      for (const stage of oneCopyStages(this.ir)) {
        const host = this.hosts.find((h) => h.interpreter.device.index === deviceOfStage(this.ir, stage.index, 0));
        if (!host) throw new Error(`no device runs stage ${stage.index}`);
        const result = host.forwardOnly(stage.index, activation, takeSkipsInto(this.ir, stage.index, skips));
        activation = result.output;
        for (const [edge, tensor] of result.skips) skips.set(edge, tensor);
      }
      // With vocab_parallel each shard's logits, joined along the classes.
      const shards = vocabShardStages(this.ir);
      if (shards.length === 0) return activation;
      const hidden = activation;
      const parts = shards.map((stage) => {
        const host = this.hosts.find((h) => h.interpreter.device.index === deviceOfStage(this.ir, stage.index, 0));
        if (!host) throw new Error(`no device runs stage ${stage.index}`);
        return host.forwardOnly(stage.index, hidden.clone()).output;
      });
      hidden.dispose();
      const logits = tf.concat(parts, parts[0].rank - 1);
      tf.dispose(parts);
      return logits;
    });
  }

  async close(): Promise<void> {
    for (const host of this.hosts) host.dispose();
    this.hosts = [];
  }
}

