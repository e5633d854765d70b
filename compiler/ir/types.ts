// The instruction-stream IR: what the compiler emits and the runtime
// interprets. Versioned JSON; docs/ir.md describes it and
// compiler/ir/schema.ts holds its JSON Schema. The runtime depends on this
// file only (plus the model description inside the IR), never on the AST.
//
// Channel contract (the runtime must honour it; lowering relies on it):
//  - Each (sender device, receiver device) pair has a FIFO-free, tagged
//    mailbox. A message is tagged (kind, stage, microbatch); `recv_*` takes
//    the message with its tag, whenever it arrived.
//  - `send_*` never blocks (buffered, asynchronous). `recv_*` blocks until the
//    tagged message is there.
//  - A send to the sender's own device is a local hand-off through the same
//    mailbox semantics.
//  - A cross-stage skip edge (IrProgram.skipEdges) has its own messages,
//    tagged (kind, edge, microbatch): `skip` forward from the source's stage
//    to the merge's, `skip_grad` back.
// Under this contract a set of streams deadlocks only if some recv waits for
// a send that is never reached; lowering proves that cannot happen by
// executing the streams abstractly (compiler/schedule/deadlock.ts).

export const IR_VERSION = 1 as const;

export type InstructionOp =
  | 'load_microbatch'
  | 'recv_act'
  | 'forward'
  | 'send_act'
  | 'loss'
  | 'recv_grad'
  | 'backward'
  | 'backward_input'
  | 'backward_weight'
  | 'send_grad'
  | 'send_stats'
  | 'recv_stats'
  | 'send_skip'
  | 'recv_skip'
  | 'send_skip_grad'
  | 'recv_skip_grad'
  | 'recompute'
  | 'offload'
  | 'reload'
  | 'free'
  | 'allreduce'
  | 'optimizer_step';

export interface SourceRef {
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

/**
 * One instruction. `slot` names the device's activation buffer holding
 * everything a (stage, microbatch) keeps between its forward and its
 * backward: the stage input, saved intermediates, and, until sent, its
 * output. Slots are allocated statically; a device has `slots` of them.
 */
export interface Instruction {
  readonly op: InstructionOp;
  /** Global stage index (all ops but optimizer_step on a device with several stages name one). */
  readonly stage: number;
  readonly microbatch?: number;
  readonly slot?: number;
  /** Peer device (global device index) for send_* and recv_* instructions. */
  readonly peer?: number;
  /**
   * The stage at the other end of a send / recv when it is not the
   * neighbour (vocabulary parallelism: the last model stage's output to
   * every shard, each shard's input gradient back to it, and the shards'
   * statistics to each other). Absent: s + 1 for send_act and recv_grad,
   * s - 1 for recv_act and send_grad (see messageStages).
   */
  readonly peerStage?: number;
  /** Bytes moved by send/recv/offload/reload, bytes summed by allreduce; a checkpointing forward's kept bytes; the bytes a recompute rebuilds. */
  readonly bytes?: number;
  /**
   * forward: keep only the stage input (the checkpoint, `bytes` of it) and
   * drop the stash; a later `recompute` of the same slot rebuilds it (an R
   * action in the order).
   */
  readonly checkpoint?: boolean;
  /** send_skip, recv_skip, send_skip_grad, recv_skip_grad: the skip edge (index into IrProgram.skipEdges). */
  readonly edge?: number;
  /** allreduce: the global device indices that hold a replica or a model copy of `stage`. */
  readonly group?: readonly number[];
  /** The schedule statement (or pipeline member) it came from. */
  readonly source?: SourceRef;
}

/**
 * The layer kinds and their typed arguments, defined once in the catalog:
 * the runtime builds its layers against these types (only the types cross
 * over, so the runtime loads nothing of the compiler).
 */
export type { BuiltinOperator, LayerArgumentsOf, LayerKind, MergeKind, OperatorArguments, TransformerBlockConstants } from '../layers/catalog.ts';

export interface IrLayer {
  readonly name: string;
  /** A BuiltinOperator, or the name of an extern layer (which then has an `implementation`). */
  readonly operator: string;
  /** For a built-in kind every argument of its schema, defaults applied (`OperatorArguments<operator>`); for an extern layer what its declaration admits. */
  readonly args: Readonly<Record<string, number | string | boolean>>;
  /** Per-example shapes: dims exclude the leading batch dim. */
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly inputDtype: 'f32' | 'i32';
  readonly outputDtype: 'f32' | 'i32';
  readonly parameters: number;
  readonly children: readonly IrLayer[];
  readonly implementation?: string;
  /** Extern layers: `parameters` was stated in the declaration's cost clause, so the runtime checks the implementation creates that many. */
  readonly parametersDeclared?: boolean;
  /** `frozen`: the runtime computes no weight gradient for its parameters and never changes them. Absent: trained. */
  readonly frozen?: boolean;
}

/** A message's kind and the stages at its two ends: what the runtime, the deadlock proof and the simulator tag it by. */
export interface MessageEnds {
  readonly kind: 'act' | 'grad' | 'stats';
  readonly from: number;
  readonly to: number;
}

/** The kind and ends of a send_* or recv_* instruction; undefined for any other op. */
export function messageStages(instruction: Pick<Instruction, 'op' | 'stage' | 'peerStage'>): MessageEnds | undefined {
  const s = instruction.stage;
  const other = instruction.peerStage;
  switch (instruction.op) {
    case 'send_act': return { kind: 'act', from: s, to: other ?? s + 1 };
    case 'recv_act': return { kind: 'act', from: other ?? s - 1, to: s };
    case 'send_grad': return { kind: 'grad', from: s, to: other ?? s - 1 };
    case 'recv_grad': return { kind: 'grad', from: other ?? s + 1, to: s };
    case 'send_stats': return { kind: 'stats', from: s, to: other ?? s };
    case 'recv_stats': return { kind: 'stats', from: other ?? s, to: s };
    default: return undefined;
  }
}

export interface IrStage {
  readonly index: number;
  readonly name: string;
  /** Pipeline rank. */
  readonly rank: number;
  /** Indices into IrModel.layers. */
  readonly layers: readonly number[];
  readonly recompute: boolean;
  readonly offload: boolean;
  /** Bytes per microbatch kept live from F until B/W (compiler's prediction). */
  readonly activationBytes: number;
  /** Every layer frozen: its streams have no optimizer_step for it. Absent: false. */
  readonly frozen?: boolean;
  /**
   * Frozen and every stage before it in its copy too (a frozen prefix): its
   * forward keeps no stash, and no backward of it exists. Absent: false.
   */
  readonly forwardOnly?: boolean;
  /**
   * With two model copies (a mirrored placement): the copy this stage
   * belongs to, and the stage of copy 0 it is a copy of (same layers, same
   * parameter names and initial values). Absent: copy 0, itself.
   */
  readonly copy?: number;
  readonly modelStage?: number;
  /**
   * A vocabulary shard (`vocab_parallel`): the stage runs output units
   * [shard·units, (shard+1)·units) of model layer `layers[0]`; its F is the
   * S pass and its B (or I and W) the T pass of the sharded softmax
   * cross-entropy. Shard stages follow the model's stages.
   */
  readonly vocabShard?: { readonly shard: number; readonly shards: number; readonly units: number };
}

/**
 * A skip connection between two top-level layers. When its stages differ it
 * is a cross-stage edge: after the source stage's forward of microbatch i,
 * `send_skip` carries the source's output to the merge stage, whose forward
 * waits for it (`recv_skip`); the merge stage's B or I sends its gradient
 * back (`send_skip_grad`), and the source stage's B or I waits for it
 * (`recv_skip_grad`) and adds it to the gradient of the source's output.
 */
export interface IrSkipEdge {
  /** Indices into IrModel.layers. */
  readonly source: number;
  readonly merge: number;
  readonly sourceStage: number;
  readonly mergeStage: number;
  /** Bytes per microbatch of the source's output (and of its gradient). */
  readonly bytes: number;
}

export interface IrModel {
  readonly name: string;
  readonly layers: readonly IrLayer[];
  /** Per-example input shape (batch dim excluded) and dtype. */
  readonly input: { readonly name: string; readonly shape: readonly number[]; readonly dtype: 'f32' | 'i32' };
  readonly target: { readonly name: string; readonly shape: readonly number[]; readonly dtype: 'f32' | 'i32' };
  readonly loss: string;
}

export interface IrDevice {
  /** Global device index (replica * ranks + rank). */
  readonly index: number;
  readonly name: string;
  readonly replica: number;
  readonly rank: number;
  /** Activation slots this device needs (= predicted peak live activations). */
  readonly slots: number;
  /** Predicted peak memory in bytes, broken down. */
  readonly memory: {
    readonly weights: number;
    readonly gradients: number;
    readonly optimizerState: number;
    readonly activations: number;
    readonly peak: number;
    readonly capacity: number;
  };
  readonly instructions: readonly Instruction[];
}

export interface IrProgram {
  readonly version: typeof IR_VERSION;
  readonly pipeline: string;
  readonly schedule: string;
  readonly splitBackward: boolean;
  readonly ranks: number;
  readonly replicas: number;
  /**
   * Model copies sharing the ranks (2 for a mirrored placement; absent: 1).
   * `stages` then lists copy 0's stages, then copy 1's; each copy trains
   * microbatches / copies of the microbatches, and the two holders of a
   * stage sum its gradients with an allreduce before the optimizer step.
   */
  readonly copies?: number;
  readonly microbatches: number;
  readonly microbatchSize: number;
  readonly batch: number;
  readonly seed: number;
  readonly optimizer: { readonly name: string; readonly args: Readonly<Record<string, number>> };
  /**
   * The declared number formats, present only when not fp32. The memory
   * figures (IrDevice.memory) are counted in them; the runtime trains in
   * fp32 only and refuses such a program (PIPE6380).
   */
  readonly precision?: 'bf16' | 'fp16';
  readonly data?: { readonly name: string; readonly args: Readonly<Record<string, number | string | boolean>> };
  readonly model: IrModel;
  readonly stages: readonly IrStage[];
  /** The model's skip connections between top-level layers, placed; an instruction's `edge` indexes this. Absent: none. */
  readonly skipEdges?: readonly IrSkipEdge[];
  readonly devices: readonly IrDevice[];
}
