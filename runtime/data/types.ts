// A dataset the runtime trains on: examples addressed by index, so any
// device can fetch any microbatch without coordination, and a seeded order
// decided by the step number alone (which makes --resume exact).

export type ExampleArray = Float32Array | Int32Array;

export interface ExampleBatch {
  readonly input: ExampleArray;
  readonly target: ExampleArray;
  readonly count: number;
}

export interface Dataset {
  readonly name: string;
  readonly trainSize: number;
  readonly testSize: number;
  /** Elements per example of input and target. */
  readonly inputSize: number;
  readonly targetSize: number;
  readonly inputDtype: 'f32' | 'i32';
  readonly targetDtype: 'f32' | 'i32';
  /**
   * Training examples by index. `positions` (each example's place in the
   * seeded stream of training examples) lets a source vary an example per
   * visit, deterministically, e.g. augmentation.
   */
  trainExamples(indices: ArrayLike<number>, positions?: ArrayLike<number>): ExampleBatch;
  testExamples(start: number, end: number): ExampleBatch;
}

/** What the IR says about the model's tensors, for shaping and checking a dataset. */
export interface DataShapes {
  readonly input: { readonly shape: readonly number[]; readonly dtype: 'f32' | 'i32' };
  readonly target: { readonly shape: readonly number[]; readonly dtype: 'f32' | 'i32' };
  /** Size of the last dimension of the model's output (classes or vocabulary). */
  readonly outputFeatures: number;
}

export const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Copies rows (of `width` elements) picked by `indices` out of a flat array. */
export function gatherRows<T extends ExampleArray>(source: T, width: number, indices: ArrayLike<number>, make: (n: number) => T): T {
  const out = make(indices.length * width);
  for (let i = 0; i < indices.length; i++) {
    const start = indices[i] * width;
    out.set(source.subarray(start, start + width), i * width);
  }
  return out;
}
