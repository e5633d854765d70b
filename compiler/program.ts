// The checked program: what the type checker hands to every later phase.
// Everything here is resolved and numeric (no AST lookups needed later),
// but keeps spans so later phases can point back at the source.

import type { Span } from '../grammar/source.ts';
import type { ScheduleDeclaration } from '../grammar/ast.ts';
import type { Placement } from './placement.ts';

export type { Placement };

export type DType = 'f32' | 'f16' | 'bf16' | 'i32';

/** A dimension: a concrete size, or a symbolic name bound per microbatch (e.g. 'batch'). */
export type Dim = number | string;

export interface TensorShape {
  readonly dtype: DType;
  readonly dims: readonly Dim[];
}

/** A literal argument value after evaluation (`relu` is kept as the string 'relu'). */
export type ArgumentValue = number | string | boolean;

/** What one layer costs, per example (one row of the batch). */
/**
 * `precision fp32` (the default): everything in 4-byte floats. `bf16` and
 * `fp16`: mixed precision as Megatron-LM and ZeRO count it — 2-byte
 * parameters and gradients, an fp32 master copy and fp32 optimizer state
 * (Adam: 2 + 2 + 4 + 4 + 4 = 16 bytes a parameter), float activations in 2
 * bytes.
 */
export type Precision = 'fp32' | 'bf16' | 'fp16';

export interface LayerCosts {
  /** Trainable parameter count. */
  readonly parameters: number;
  /** Forward FLOPs per example. Backward-input and backward-weight are each about the same for matmul layers. */
  readonly forwardFlops: number;
  readonly backwardInputFlops: number;
  readonly backwardWeightFlops: number;
  /** Bytes per example kept live from forward until backward (saved activations, including the layer input). */
  readonly activationBytes: number;
  /** Bytes per example of the layer's output tensor. */
  readonly outputBytes: number;
  /**
   * Bytes per example the input-gradient step I leaves for the weight-gradient
   * step W (freed at W): e.g. a Dense layer's input and its pre-activation
   * gradient. 0 for layers without weights. Absent: activationBytes (the
   * conservative model, for extern layers that do not say).
   */
  readonly weightGradientBytes?: number;
  /**
   * The part of activationBytes that is the layer's input tensor itself (0
   * when it keeps something else). A stage's stash counts a tensor once
   * when one layer keeps its output and the next keeps it as its input.
   */
  readonly keptInputBytes?: number;
  /** The part of activationBytes that is the layer's output tensor itself. */
  readonly keptOutputBytes?: number;
}

/**
 * One layer of the sequential model, after `repeat` expansion. Costs are per
 * example (one row of the batch); multiply by the microbatch size.
 * Residual blocks are one CheckedLayer with `operator: 'Residual'` and
 * their body in `children` (run in order, output added to the input).
 */
export interface CheckedLayer extends LayerCosts {
  /** Unique display name: 'fc1', 'hidden[3]', 'block[2].attn'. */
  readonly name: string;
  /** Catalog operator ('Dense', 'TransformerBlock', ...) or an extern layer's name. */
  readonly operator: string;
  readonly args: Readonly<Record<string, ArgumentValue>>;
  readonly inputShape: TensorShape;
  readonly outputShape: TensorShape;
  /**
   * `frozen layer` (or a layer of a `frozen` stage): its parameters are
   * never trained — no weight gradient, no gradient buffer, no optimizer
   * state. Absent: trained. On a Residual block it is absent; its frozen
   * children say so themselves.
   */
  readonly frozen?: boolean;
  /** Extern layers: true when a cost clause states `parameters` (the runtime then holds the implementation to it). */
  readonly parametersDeclared?: boolean;
  readonly children: readonly CheckedLayer[];
  /** For extern layers: the implementation module path as resolved by the host. */
  readonly implementation?: string;
  readonly span: Span;
}

export interface CheckedTensor {
  readonly name: string;
  readonly role: 'input' | 'target';
  readonly shape: TensorShape;
  readonly span: Span;
}

export interface CheckedLoss {
  /** 'softmax_cross_entropy' | 'mse' | 'sparse_softmax_cross_entropy' ... */
  readonly function: string;
  readonly target: string;
  readonly span: Span;
}

/**
 * A skip connection between two top-level units of the model: the merge
 * layer (Add, Concat) takes the source's output as its second input.
 * Skips inside a residual body stay inside that unit and are not listed.
 */
export interface CheckedSkip {
  /** Indices into CheckedModel.layers; source < merge. */
  readonly source: number;
  readonly merge: number;
  /** Bytes per example of the source's output (what crosses when the two are in different stages). */
  readonly bytesPerExample: number;
  /** The merge layer's `skip` argument. */
  readonly span: Span;
}

export interface CheckedModel {
  readonly name: string;
  /** Symbolic dim names (bound to the microbatch size at run time) and fixed dims. */
  readonly dims: Readonly<Record<string, number | null>>;
  readonly inputs: readonly CheckedTensor[];
  readonly targets: readonly CheckedTensor[];
  readonly layers: readonly CheckedLayer[];
  /** Skip connections between top-level units, in model order of their merge layers. */
  readonly skips: readonly CheckedSkip[];
  readonly loss: CheckedLoss;
  readonly span: Span;
}

export interface CheckedDevice {
  /** Global device index, in declaration order ('gpu[0]' ... ). */
  readonly index: number;
  readonly name: string;
  readonly memoryBytes: number;
  /** Sustained FLOP/s for the cost model. */
  readonly flopsPerSecond: number;
  readonly span: Span;
}

export interface CheckedLink {
  readonly from: number;
  readonly to: number;
  readonly bandwidthBytesPerSecond: number;
  readonly latencySeconds: number;
  readonly span: Span;
}

export interface CheckedCluster {
  readonly name: string;
  readonly devices: readonly CheckedDevice[];
  /** Directed links (a `<->` declaration yields both directions). */
  readonly links: readonly CheckedLink[];
  readonly span: Span;
}

/** Per-microbatch costs of one stage, summed over its layers (microbatch size applied). */
export interface StageCostSummary {
  readonly forwardFlops: number;
  readonly backwardInputFlops: number;
  readonly backwardWeightFlops: number;
  readonly parameters: number;
  /** Parameters of the stage's layers that are not frozen: what has gradients and optimizer state. */
  readonly trainableParameters: number;
  /** Bytes of weights (parameters × dtype size). */
  readonly weightBytes: number;
  /** Bytes kept live per microbatch from F until B (or W when split). */
  readonly activationBytes: number;
  /** Bytes sent to the next stage per microbatch (= gradient bytes sent back). */
  readonly outputBytes: number;
  /** Bytes of the stage input per microbatch (what recompute must keep). */
  readonly inputBytes: number;
  /** Bytes per microbatch kept from I until W (what the weight gradients need); freed at W. */
  readonly weightGradientBytes: number;
  /** Whether the stash already holds the stage input (its first layer keeps it). */
  readonly inputInStash: boolean;
  /** Bytes of cross-stage skips received per microbatch, already counted in activationBytes (absent: none). */
  readonly receivedSkipBytes?: number;
}

export interface CheckedStage {
  /** Global stage index 0..n-1, in pipeline order. */
  readonly index: number;
  readonly name: string;
  /** Device index within one replica (0..p-1) — the pipeline rank. */
  readonly device: number;
  /** Indices into CheckedModel.layers, contiguous and ascending. */
  readonly layers: readonly number[];
  readonly inputShape: TensorShape;
  readonly outputShape: TensorShape;
  readonly recompute: boolean;
  readonly offload: boolean;
  /**
   * Every layer is frozen (the stage is marked `frozen`, or its layers are
   * frozen or have no parameters, at least one frozen): no W work and no
   * optimizer step.
   */
  readonly frozen: boolean;
  /**
   * Frozen, and so is every stage before it in its copy (a frozen prefix):
   * no gradient reaches it, so it runs F alone, keeps no stash and gets no
   * gradient back.
   */
  readonly forwardOnly: boolean;
  readonly costs: StageCostSummary;
  readonly span: Span;
  /** Mirrored placements: the model copy (absent: 0) and the copy-0 stage this one repeats (absent: itself). */
  readonly copy?: number;
  readonly modelStage?: number;
  /**
   * A vocabulary shard (`vocab_parallel LAYER`): this stage runs shard
   * `shard` of `shards` of model layer `layer` (`layers` is [layer]), the
   * output units [shard·units, (shard+1)·units) of it, as the S and T
   * passes. Its costs are the shard's, with the logits shard kept from S to T.
   */
  readonly vocabShard?: VocabShard;
}

export interface VocabShard {
  readonly layer: number;
  readonly shard: number;
  readonly shards: number;
  /** Output units of this shard (the layer's units / shards). */
  readonly units: number;
}

/** `vocab_parallel LAYER`, checked: the model layer split over every pipeline rank. */
export interface CheckedVocabParallel {
  readonly layer: number;
  readonly name: string;
  readonly shards: number;
  readonly span: Span;
}

/**
 * A skip connection placed on the pipeline: its two ends' stages (copy 0's
 * stages of a mirrored placement) and the bytes of one microbatch of the
 * source's output. Ends in different stages are a cross-stage edge, which
 * lowering carries on its own channel (send_skip / recv_skip and the
 * gradient back).
 */
export interface CheckedSkipEdge {
  /** Indices into CheckedModel.layers. */
  readonly source: number;
  readonly merge: number;
  readonly sourceStage: number;
  readonly mergeStage: number;
  /** Bytes per microbatch of the source's output (its gradient is as large). */
  readonly bytes: number;
}

export interface CheckedScheduleUse {
  /** As written, normalised to underscores ('1f1b', 'zb_v', 'auto', 'my_sched'). */
  readonly name: string;
  /** Evaluated named arguments. `auto(memory: ...)` keeps memory in activation units or bytes (see memoryUnit). */
  readonly args: Readonly<Record<string, ArgumentValue>>;
  /** The declaration (user's or standard library's); undefined for 'auto'. */
  readonly declaration?: ScheduleDeclaration;
  readonly span: Span;
}

export interface CheckedOptimizer {
  readonly name: 'sgd' | 'momentum' | 'adam';
  readonly args: Readonly<Record<string, number>>;
  /** Optimizer state bytes per parameter byte (sgd 0, momentum 1, adam 2). */
  readonly stateFactor: number;
  readonly span: Span;
}

export interface CheckedData {
  /** 'mnist' | 'synthetic' | 'chars' */
  readonly name: string;
  readonly args: Readonly<Record<string, ArgumentValue>>;
  readonly span: Span;
}

export interface CheckedPipeline {
  readonly name: string;
  readonly batch: number;
  readonly microbatches: number;
  /** Rows per microbatch (batch / microbatches, or per remainder policy). */
  readonly microbatchSize: number;
  readonly remainder: 'error' | 'drop' | 'pad';
  /** Data-parallel replicas; replica r's pipeline rank d runs on cluster device r*p + d. */
  readonly replicas: number;
  /** Pipeline ranks (devices per replica). */
  readonly devicesPerReplica: number;
  /** The stage → rank map and the kind it was declared as (compiler/placement.ts). */
  readonly placement: Placement;
  readonly stages: readonly CheckedStage[];
  /** The model's skip connections, placed (CheckedModel.skips with their stages); the edge's index is its id. */
  readonly skipEdges: readonly CheckedSkipEdge[];
  readonly schedule: CheckedScheduleUse;
  readonly optimizer: CheckedOptimizer;
  /** Number formats of parameters, gradients, optimizer state and activations (the `precision` setting; default fp32). */
  readonly precision: Precision;
  readonly data?: CheckedData;
  readonly seed: number;
  readonly steps?: number;
  /** `vocab_parallel LAYER`: the shard stages follow the model's in `stages`. */
  readonly vocabParallel?: CheckedVocabParallel;
  readonly span: Span;
}

export interface CheckedProgram {
  readonly model: CheckedModel;
  readonly cluster: CheckedCluster;
  readonly pipeline: CheckedPipeline;
  /** Every schedule declaration visible (user's and imported), by name. */
  readonly schedules: ReadonlyMap<string, ScheduleDeclaration>;
  /** Source texts by file name, for rendering spans later. */
  readonly sources: ReadonlyMap<string, string>;
}
