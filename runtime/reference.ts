// Plain single-device training of the same model: the whole global batch in
// one forward and one backward, no pipeline, no microbatches. The yardstick
// every schedule's gradients are compared against.

import * as tf from '@tensorflow/tfjs-core';
import type { IrProgram } from '../compiler/ir/types.ts';
import { BatchFeed, type Dataset } from './data/index.ts';
import type { StageState } from './deviceHost.ts';
import type { ExternRegistry } from './layers/registry.ts';
import { disposeState } from './layers/types.ts';
import { computeLoss, parseLoss } from './loss.ts';
import { buildWholeModel, joinVocabShards, shardKey, type StageRuntime } from './model.ts';

export class ReferenceTrainer {
  readonly model: StageRuntime;
  private readonly ir: IrProgram;
  private readonly feed: BatchFeed;

  constructor(ir: IrProgram, dataset: Dataset, externs: ExternRegistry) {
    this.ir = ir;
    this.model = buildWholeModel(ir, externs);
    this.feed = new BatchFeed(dataset, ir.seed, ir.microbatchSize, ir.microbatches, ir.replicas);
  }

  /** Loads the parameters of pipeline stages (names are the same in both). */
  loadStages(state: Readonly<Record<number, StageState>>): void {
    const values: Record<string, Float32Array> = {};
    for (const [index, stage] of Object.entries(state)) {
      // A vocabulary shard holds a slice of its layer: joined back into the whole layer's values.
      const shard = this.ir.stages[Number(index)]?.vocabShard;
      for (const [name, array] of Object.entries(stage.parameters)) values[shard === undefined ? name : shardKey(name, shard.shard)] = array.values;
    }
    this.model.parameters.loadValues(joinVocabShards(this.ir, values));
  }

  /** Forward + backward over the step's whole global batch; returns the loss. Gradients accumulate in model.parameters. */
  async computeGradients(step: number): Promise<number> {
    const batchSize = this.feed.batchSize;
    const batch = this.feed.examples(step, 0, batchSize);
    const model = this.ir.model;
    const input = tf.tensor(batch.input, [batchSize, ...model.input.shape], model.input.dtype === 'i32' ? 'int32' : 'float32');
    const target = tf.tensor(batch.target, [batchSize, ...model.target.shape], model.target.dtype === 'i32' ? 'int32' : 'float32');
    const context = { training: true, step, seed: this.ir.seed, exampleOffset: 0 };
    const forward = this.model.layer.forward(this.model.parameters, input, context);
    const loss = computeLoss(parseLoss(model.loss), forward.output, target, 1);
    const backward = this.model.layer.backwardInput(this.model.parameters, forward.saved, loss.gradient, context, false);
    this.model.layer.backwardWeight(this.model.parameters, backward.pending, context);
    const value = (await loss.loss.data())[0];
    disposeState([input, target, forward, loss, backward]);
    return value;
  }

  async step(step: number): Promise<number> {
    const loss = await this.computeGradients(step);
    this.model.optimizer.apply(this.model.parameters);
    return loss;
  }

  dispose(): void {
    this.model.parameters.dispose();
    this.model.optimizer.dispose();
  }
}

/** Largest relative difference, per parameter ‖a − b‖∞ / max(‖b‖∞, tiny), over all parameters. */
export function compareGradients(pipeline: Readonly<Record<string, Float32Array>>, reference: Readonly<Record<string, Float32Array>>): { maxRelativeError: number; worst: string; perParameter: Record<string, number> } {
  const perParameter: Record<string, number> = {};
  let maxRelativeError = 0;
  let worst = '';
  for (const [name, expected] of Object.entries(reference)) {
    const actual = pipeline[name];
    if (!actual || actual.length !== expected.length) {
      perParameter[name] = Number.POSITIVE_INFINITY;
      maxRelativeError = Number.POSITIVE_INFINITY;
      worst = name;
      continue;
    }
    let difference = 0;
    let scale = 0;
    for (let i = 0; i < expected.length; i++) {
      difference = Math.max(difference, Math.abs(actual[i] - expected[i]));
      scale = Math.max(scale, Math.abs(expected[i]));
    }
    const relative = difference / Math.max(scale, 1e-12);
    perParameter[name] = relative;
    if (!(relative <= maxRelativeError)) { maxRelativeError = relative; worst = name; }
  }
  for (const name of Object.keys(pipeline)) if (!(name in reference)) { perParameter[name] = Number.POSITIVE_INFINITY; maxRelativeError = Number.POSITIVE_INFINITY; worst = name; }
  return { maxRelativeError, worst, perParameter };
}
