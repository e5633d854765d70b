// Datasets by the name the program's `data NAME(args)` gives, and the feed
// that turns (step, replica, microbatch) into examples.

import type { IrProgram } from '../../compiler/ir/types.ts';
import { seededPermutation, hashKey } from '../random.ts';
import { charsDataset } from './chars.ts';
import { mnistDataset } from './mnist.ts';
import { syntheticDataset } from './synthetic.ts';
import type { DataShapes, Dataset, ExampleBatch } from './types.ts';

export type { Dataset, ExampleBatch, DataShapes } from './types.ts';

export interface DataSpec {
  readonly name: string;
  readonly args: Readonly<Record<string, number | string | boolean>>;
}

export function dataShapes(ir: IrProgram): DataShapes {
  const lastLayer = ir.model.layers[ir.model.layers.length - 1];
  return {
    input: { shape: ir.model.input.shape, dtype: ir.model.input.dtype },
    target: { shape: ir.model.target.shape, dtype: ir.model.target.dtype },
    outputFeatures: lastLayer ? lastLayer.outputShape[lastLayer.outputShape.length - 1] : 1,
  };
}

export function createDataset(spec: DataSpec | undefined, shapes: DataShapes, baseDirectory: string): Dataset {
  const name = spec?.name ?? 'synthetic';
  const args = spec?.args ?? {};
  switch (name) {
    case 'mnist': return mnistDataset(args, shapes);
    case 'synthetic': return syntheticDataset(args, shapes);
    case 'chars': return charsDataset(args, shapes, baseDirectory);
    default: throw new Error(`unknown data source '${name}' (mnist, synthetic, chars)`);
  }
}

/**
 * Which examples each microbatch of each step trains on: epochs of a seeded
 * shuffle, consumed in order. Depends on the step number only, so a resumed
 * run sees exactly the batches an uninterrupted one would.
 */
export class BatchFeed {
  readonly dataset: Dataset;
  private readonly seed: number;
  private readonly globalBatch: number;
  private readonly microbatchSize: number;
  private readonly microbatches: number;
  private readonly permutations = new Map<number, Int32Array>();

  constructor(dataset: Dataset, seed: number, microbatchSize: number, microbatches: number, replicas: number) {
    this.dataset = dataset;
    this.seed = seed;
    this.microbatchSize = microbatchSize;
    this.microbatches = microbatches;
    this.globalBatch = microbatchSize * microbatches * replicas;
    if (dataset.trainSize < 1) throw new Error(`data ${dataset.name} has no training examples`);
  }

  private permutation(epoch: number): Int32Array {
    let order = this.permutations.get(epoch);
    if (!order) {
      if (this.permutations.size > 2) this.permutations.clear();
      order = seededPermutation(this.dataset.trainSize, hashKey(this.seed, 'epoch', epoch));
      this.permutations.set(epoch, order);
    }
    return order;
  }

  /** Offset of a microbatch's first example within its step's global batch. */
  exampleOffset(replica: number, microbatch: number): number {
    return (replica * this.microbatches + microbatch) * this.microbatchSize;
  }

  /** Examples [offset, offset + count) of a step's global batch. */
  examples(step: number, offset: number, count: number): ExampleBatch {
    const indices = new Int32Array(count);
    const positions = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const position = step * this.globalBatch + offset + i;
      const epoch = Math.floor(position / this.dataset.trainSize);
      indices[i] = this.permutation(epoch)[position % this.dataset.trainSize];
      positions[i] = position;
    }
    return this.dataset.trainExamples(indices, positions);
  }

  microbatch(step: number, replica: number, microbatch: number): ExampleBatch {
    return this.examples(step, this.exampleOffset(replica, microbatch), this.microbatchSize);
  }

  get batchSize(): number {
    return this.globalBatch;
  }
}
