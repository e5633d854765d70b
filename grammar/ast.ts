// The .pipe abstract syntax tree. Produced by grammar/toAst.ts from the CST,
// consumed by the compiler. Every node has a `kind` string discriminant and a
// `span`. Nodes built from parser-recovered input may be partial: fields that
// were missing in the source are `undefined` where typed optional, and names
// that were missing are Identifiers with `name: ''` and a zero-width span.
//
// Syntax summary (docs/language.md is the reference):
//
//   import "./schedules.pipe"
//   model NAME { dim ... ; input/target ... ; layer ... ; repeat ... ; residual ... ; loss ... }
//   cluster NAME { device ... ; link ... }
//   pipeline NAME { model X; cluster Y; batch 256; microbatches 8; stages {...}; schedule ...; ... }
//   schedule NAME(params) { on device d {...} | split backward | limit ... | priority ... }
//   extern layer NAME(params) : [in dims] -> [out dims] from "./impl.ts"

import type { Span } from './source.ts';

export interface NodeBase {
  readonly span: Span;
}

export interface Identifier extends NodeBase {
  readonly kind: 'Identifier';
  readonly name: string;
}

// ───────────────────────────── expressions ─────────────────────────────

/** A plain number (`8`, `1e-3`, `0.5`). */
export interface NumberLiteral extends NodeBase {
  readonly kind: 'NumberLiteral';
  readonly value: number;
  /** The text as written, for the printer (keeps `1e-3` as `1e-3`). */
  readonly text: string;
}

/**
 * A number with a unit, written without a space: `16GiB`, `50GB/s`, `10us`,
 * `312TFLOPS`. `unit` is exactly as written; the checker converts to base
 * units (bytes, bytes/s, seconds, FLOP/s) and rejects unknown units.
 */
export interface QuantityLiteral extends NodeBase {
  readonly kind: 'QuantityLiteral';
  readonly value: number;
  readonly unit: string;
  readonly text: string;
}

export interface StringLiteral extends NodeBase {
  readonly kind: 'StringLiteral';
  /** Unescaped value. */
  readonly value: string;
}

export interface BooleanLiteral extends NodeBase {
  readonly kind: 'BooleanLiteral';
  readonly value: boolean;
}

/** A bare name in expression position: a dim, a loop variable, `p`, `relu`, `1f1b`. */
export interface NameExpression extends NodeBase {
  readonly kind: 'NameExpression';
  readonly name: Identifier;
}

export type BinaryOperator =
  | '+' | '-' | '*' | '/' | '%'
  | '==' | '!=' | '<' | '<=' | '>' | '>='
  | '&&' | '||';

export interface BinaryExpression extends NodeBase {
  readonly kind: 'BinaryExpression';
  readonly operator: BinaryOperator;
  readonly left: Expression;
  readonly right: Expression;
}

export interface UnaryExpression extends NodeBase {
  readonly kind: 'UnaryExpression';
  readonly operator: '-' | '!';
  readonly operand: Expression;
}

/** `min(a, b)`, `activations(1f1b)`, `mnist(holdout: 2000)`. */
export interface CallExpression extends NodeBase {
  readonly kind: 'CallExpression';
  readonly callee: Identifier;
  readonly args: readonly Argument[];
}

/** `(expr)` kept so the printer can round-trip the user's grouping. */
export interface ParenthesizedExpression extends NodeBase {
  readonly kind: 'ParenthesizedExpression';
  readonly expression: Expression;
}

export type Expression =
  | NumberLiteral
  | QuantityLiteral
  | StringLiteral
  | BooleanLiteral
  | NameExpression
  | BinaryExpression
  | UnaryExpression
  | CallExpression
  | ParenthesizedExpression;

/** Half-open integer range `from..to` (so `0..4` is 0,1,2,3). */
export interface RangeExpression extends NodeBase {
  readonly kind: 'RangeExpression';
  readonly from: Expression;
  readonly to: Expression;
}

/** `name: value` or a positional `value`. */
export interface Argument extends NodeBase {
  readonly kind: 'Argument';
  readonly name?: Identifier;
  readonly value: Expression;
}

// ───────────────────────────── documents ─────────────────────────────

export interface Document extends NodeBase {
  readonly kind: 'Document';
  readonly imports: readonly ImportDeclaration[];
  readonly declarations: readonly Declaration[];
  /** Comments with their spans, so the printer can keep them. */
  readonly comments: readonly Comment[];
}

export interface Comment extends NodeBase {
  readonly kind: 'Comment';
  /** Text including the leading `//` or `/*`. */
  readonly text: string;
}

/** `import "./std.pipe"`; "std:schedules" names the built-in library. */
export interface ImportDeclaration extends NodeBase {
  readonly kind: 'ImportDeclaration';
  readonly path: StringLiteral;
}

export type Declaration =
  | ModelDeclaration
  | ClusterDeclaration
  | PipelineDeclaration
  | ScheduleDeclaration
  | ExternLayerDeclaration;

// ───────────────────────────── model ─────────────────────────────

export interface ModelDeclaration extends NodeBase {
  readonly kind: 'ModelDeclaration';
  readonly name: Identifier;
  readonly members: readonly ModelMember[];
}

export type ModelMember =
  | DimDeclaration
  | TensorDeclaration
  | LayerDeclaration
  | RepeatBlock
  | ResidualBlock
  | LossDeclaration;

/** `dim seq = 128` (fixed) or `dim batch` (symbolic, bound by the pipeline's batch). */
export interface DimDeclaration extends NodeBase {
  readonly kind: 'DimDeclaration';
  readonly name: Identifier;
  readonly value?: Expression;
}

/** `f32[batch, 784]` */
export interface TensorType extends NodeBase {
  readonly kind: 'TensorType';
  readonly dtype: Identifier;
  readonly dims: readonly Expression[];
}

/** `input x: f32[batch, 784]` / `target y: i32[batch]` */
export interface TensorDeclaration extends NodeBase {
  readonly kind: 'TensorDeclaration';
  readonly role: 'input' | 'target';
  readonly name: Identifier;
  readonly type: TensorType;
}

/** `fc1` or `hidden[i]` on the left of a layer declaration. */
export interface LayerName extends NodeBase {
  readonly kind: 'LayerName';
  readonly base: Identifier;
  readonly index?: Expression;
}

/** `layer fc1 = Dense(units: 1024, activation: relu)` */
export interface LayerDeclaration extends NodeBase {
  readonly kind: 'LayerDeclaration';
  /** `frozen layer ...`: the `frozen` keyword (the layer's parameters are not trained); absent for a trained layer. */
  readonly frozen?: { readonly span: Span };
  readonly name: LayerName;
  readonly operator: Identifier;
  readonly args: readonly Argument[];
}

/** `repeat i in 0..6 { ... }` — members are instantiated once per index. */
export interface RepeatBlock extends NodeBase {
  readonly kind: 'RepeatBlock';
  readonly variable: Identifier;
  readonly range: RangeExpression;
  readonly body: readonly ModelMember[];
}

/**
 * `residual block[i] { layer ...; layer ... }` — output = input + body(input).
 * The body must keep the input's shape. It is one unit for stage assignment.
 */
export interface ResidualBlock extends NodeBase {
  readonly kind: 'ResidualBlock';
  readonly name: LayerName;
  readonly body: readonly ModelMember[];
}

/** `loss softmax_cross_entropy(out, y)` — first argument is the last layer, second a target. */
export interface LossDeclaration extends NodeBase {
  readonly kind: 'LossDeclaration';
  readonly function: Identifier;
  readonly args: readonly Argument[];
}

/**
 * A layer implemented in TypeScript:
 * `extern layer SwiGLU(hidden: int) : [batch, d] -> [batch, d] from "./swiglu.ts"`
 * The shape signature uses the parameter names and fresh dim names as
 * pattern variables; the compiler reads the TS file's exported signature
 * (ts-morph) to check the parameters agree. An optional
 * `cost(parameters: ..., flops: ...)` states what the layer costs per
 * example, in expressions over the parameters and the pattern's dims.
 */
export interface ExternLayerDeclaration extends NodeBase {
  readonly kind: 'ExternLayerDeclaration';
  readonly name: Identifier;
  readonly params: readonly TypedParameter[];
  readonly inputDims: readonly Expression[];
  readonly outputDims: readonly Expression[];
  readonly path: StringLiteral;
  /** `cost(...)`'s arguments, when given. */
  readonly cost?: readonly Argument[];
}

/** `hidden: int`, `rate: float = 0.1`, `act: string` */
export interface TypedParameter extends NodeBase {
  readonly kind: 'TypedParameter';
  readonly name: Identifier;
  readonly type: Identifier;
  readonly default?: Expression;
}

// ───────────────────────────── cluster ─────────────────────────────

export interface ClusterDeclaration extends NodeBase {
  readonly kind: 'ClusterDeclaration';
  readonly name: Identifier;
  readonly members: readonly ClusterMember[];
}

export type ClusterMember = DeviceDeclaration | LinkDeclaration;

/** A `key value` pair such as `memory 16GiB`, `speed 100TFLOPS`, `bandwidth 50GB/s`. */
export interface Property extends NodeBase {
  readonly kind: 'Property';
  readonly key: Identifier;
  readonly value: Expression;
}

/** `device gpu[0..4] memory 16GiB speed 100TFLOPS` or `device host memory 64GiB`. */
export interface DeviceDeclaration extends NodeBase {
  readonly kind: 'DeviceDeclaration';
  readonly name: Identifier;
  readonly range?: RangeExpression;
  readonly properties: readonly Property[];
}

/** `gpu[0]`, `gpu[0..4]`, `gpu[*]`, `host`. */
export interface DeviceReference extends NodeBase {
  readonly kind: 'DeviceReference';
  readonly base: Identifier;
  readonly index?: Expression | RangeExpression | WildcardIndex;
}

export interface WildcardIndex extends NodeBase {
  readonly kind: 'WildcardIndex';
}

/** `link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us` (`->` for one direction). */
export interface LinkDeclaration extends NodeBase {
  readonly kind: 'LinkDeclaration';
  readonly from: DeviceReference;
  readonly to: DeviceReference;
  readonly bidirectional: boolean;
  readonly properties: readonly Property[];
}

// ───────────────────────────── pipeline ─────────────────────────────

export interface PipelineDeclaration extends NodeBase {
  readonly kind: 'PipelineDeclaration';
  readonly name: Identifier;
  readonly members: readonly PipelineMember[];
}

export type PipelineMember =
  | PipelineSetting
  | StagesBlock
  | AutoStages
  | ScheduleUse
  | StageAttribute;

/**
 * `model mlp`, `cluster local`, `batch 256`, `microbatches 8`, `replicas 2`,
 * `remainder drop`, `optimizer adam(lr: 1e-3)`, `data mnist(holdout: 2000)`,
 * `seed 7`, `steps 200`. The checker validates the key and the value's type.
 * Several settings may share a line (`batch 256 microbatches 8`).
 */
export interface PipelineSetting extends NodeBase {
  readonly kind: 'PipelineSetting';
  readonly key: Identifier;
  readonly value: Expression;
}

/**
 * `stages { ... }` or `stages placement v { ... }` / `stages placement loop { ... }`.
 * With a placement, stage declarations omit `on`, and the compiler assigns
 * devices: loop puts stage s on device s mod P, v puts 0..P-1 then P-1..0.
 */
export interface StagesBlock extends NodeBase {
  readonly kind: 'StagesBlock';
  readonly placement?: Identifier;
  readonly stages: readonly StageDeclaration[];
}

/** `s0 on gpu[0] = fc1, hidden[0..2]` (the `on` part omitted under a placement). */
export interface StageDeclaration extends NodeBase {
  readonly kind: 'StageDeclaration';
  readonly name: Identifier;
  readonly device?: DeviceReference;
  readonly layers: readonly LayerReference[];
}

/** `fc1`, `hidden[2]`, `hidden[0..2]` */
export interface LayerReference extends NodeBase {
  readonly kind: 'LayerReference';
  readonly base: Identifier;
  readonly index?: Expression | RangeExpression;
}

/** `stages auto(8) balance compute placement v` (balance: compute | memory; placement: loop | v). */
export interface AutoStages extends NodeBase {
  readonly kind: 'AutoStages';
  readonly count: Expression;
  readonly balance?: Identifier;
  readonly placement?: Identifier;
}

/** `schedule 1f1b`, `schedule interleaved_1f1b(v: 2)`, `schedule auto(memory: 1.0 * activations(1f1b))`. */
export interface ScheduleUse extends NodeBase {
  readonly kind: 'ScheduleUse';
  readonly name: Identifier;
  readonly args: readonly Argument[];
}

/**
 * `recompute s0, s1` (activation checkpointing) / `offload s2` (activation
 * offload to host) / `frozen s0` (every layer of the stage forward-only:
 * no weight gradient, no optimizer step).
 */
export interface StageAttribute extends NodeBase {
  readonly kind: 'StageAttribute';
  readonly attribute: 'recompute' | 'offload' | 'frozen';
  readonly stages: readonly Identifier[];
}

// ───────────────────────────── schedules ─────────────────────────────

/**
 * `schedule NAME(p, m, v = 1) { ... }`. The reserved names p (devices),
 * m (microbatches), v (stages per device), n (stages) are bound from the
 * pipeline; other parameters come from the use site's arguments or defaults.
 * A body is either explicit (`on device d { ... }`) or rules (everything
 * else), not both.
 */
export interface ScheduleDeclaration extends NodeBase {
  readonly kind: 'ScheduleDeclaration';
  readonly name: Identifier;
  readonly params: readonly ScheduleParameter[];
  readonly body: readonly ScheduleStatement[];
}

export interface ScheduleParameter extends NodeBase {
  readonly kind: 'ScheduleParameter';
  readonly name: Identifier;
  readonly default?: Expression;
}

export type ScheduleStatement =
  | LetStatement
  | OnDeviceBlock
  | SplitBackwardRule
  | LimitRule
  | PriorityRule
  | MemoryRule
  | RequiresRule
  | RequiresCondition;

/** `let w = min(p - d - 1, m)` */
export interface LetStatement extends NodeBase {
  readonly kind: 'LetStatement';
  readonly name: Identifier;
  readonly value: Expression;
}

/** `on device d { ... }` — the body runs once per device with d bound. */
export interface OnDeviceBlock extends NodeBase {
  readonly kind: 'OnDeviceBlock';
  readonly variable: Identifier;
  readonly body: readonly OrderStatement[];
}

export type OrderStatement = LetStatement | ActionStatement | ForStatement | IfStatement | OverlapStatement;

/**
 * F / B / I / W are compute; R / O / L are memory actions on the stash of
 * one (microbatch, chunk): R recomputes its forward from the checkpointed
 * stage input (a planned R makes the F keep only that input), O offloads the
 * stash to host memory and L loads it back (docs/schedules.md, "Memory
 * actions").
 */
export type ComputeOperation = 'F' | 'B' | 'I' | 'W' | MemoryOperation;

/** Actions that move or rebuild a stash instead of computing a step of training. */
export type MemoryOperation = 'R' | 'O' | 'L';

/**
 * The passes of a vocabulary shard (`vocab_parallel`): S is the forward of
 * the device's shard stage (its logits and statistics), T its backward
 * (softmax − one-hot, its gradients). `S[i]` is `F[i, v]`, `T[i]` is
 * `B[i, v]`; as priority terms they rank the shard's F and its B (or I).
 */
export type VocabPassOperation = 'S' | 'T';

/** What an action statement or a priority term may name. */
export type ActionLetter = ComputeOperation | VocabPassOperation;

/**
 * `F[i]`, `B[0..w]`, `I[i, 1]`, `W[m-1, c]`, `R[i]`, `O[i, c]`, `L[i, c]`, `S[i]`, `T[i]`: operation, microbatch (or a
 * range of them, expanded in order) and chunk (default 0). Chunk c on device
 * d is the c-th lowest-numbered stage placed on d.
 */
export interface ActionStatement extends NodeBase {
  readonly kind: 'ActionStatement';
  readonly operation: ActionLetter;
  readonly microbatch: Expression | RangeExpression;
  readonly chunk?: Expression;
}

/** `for i in 0..m-w { F[i+w]; B[i] }` */
export interface ForStatement extends NodeBase {
  readonly kind: 'ForStatement';
  readonly variable: Identifier;
  readonly range: RangeExpression;
  readonly body: readonly OrderStatement[];
}

/** `if d == 0 { ... } else { ... }` (else-if chains nest an IfStatement in `otherwise`). */
export interface IfStatement extends NodeBase {
  readonly kind: 'IfStatement';
  readonly condition: Expression;
  readonly then: readonly OrderStatement[];
  readonly otherwise?: readonly OrderStatement[];
}

/** `overlap { F[i, 0]; B[j, 1] }` — run together (DualPipe's overlapped F&B). */
export interface OverlapStatement extends NodeBase {
  readonly kind: 'OverlapStatement';
  readonly body: readonly ActionStatement[];
}

/** `split backward` — B becomes I (input grad) + W (weight grad). */
export interface SplitBackwardRule extends NodeBase {
  readonly kind: 'SplitBackwardRule';
}

/**
 * `limit activations <= 2 * p - d per device` — the list scheduler never
 * starts an F that would exceed the bound (in units of one stage's
 * activations for one microbatch; `d` is bound per device).
 */
export interface LimitRule extends NodeBase {
  readonly kind: 'LimitRule';
  readonly resource: Identifier;
  readonly bound: Expression;
  /** `per device` as written (the bound is always per device; the words are optional). */
  readonly per?: Identifier;
}

/** `priority I > F > W` or with chunks `priority B[1] > B[0] > F[1] > F[0]`. */
export interface PriorityRule extends NodeBase {
  readonly kind: 'PriorityRule';
  readonly terms: readonly PriorityTerm[];
}

export interface PriorityTerm extends NodeBase {
  readonly kind: 'PriorityTerm';
  readonly operation: ActionLetter;
  readonly chunk?: Expression;
}

/**
 * `recompute when live > 2`, `recompute ratio 0.5`, `offload ratio 0.5`,
 * `offload when live > p`: the list scheduler checkpoints (then recomputes
 * with R) or offloads (O, later L) the forwards the trigger picks
 * (docs/schedules.md, "Memory knobs"). `trigger` is the word as written;
 * `when` takes the comparison `live > K` as its value, `ratio` a number,
 * checked when the schedule is evaluated.
 */
export interface MemoryRule extends NodeBase {
  readonly kind: 'MemoryRule';
  readonly action: 'recompute' | 'offload';
  readonly trigger: Identifier;
  readonly value: Expression;
}

/** `requires placement v` / `requires split backward` — checked against the pipeline. */
export interface RequiresRule extends NodeBase {
  readonly kind: 'RequiresRule';
  readonly what: Identifier;
  readonly value?: Identifier;
}

/**
 * `requires v == 2`, `requires m >= 2 * p "needs at least 2p microbatches"`:
 * part of the schedule's contract, a condition over p, m, v, n and the
 * parameters that a pipeline (or a bare shape) must meet; the message says
 * what is wrong when it does not hold.
 */
export interface RequiresCondition extends NodeBase {
  readonly kind: 'RequiresCondition';
  readonly condition: Expression;
  readonly message?: StringLiteral;
}

export type Node =
  | Identifier | Expression | RangeExpression | Argument | Document | Comment | ImportDeclaration
  | ModelDeclaration | ModelMember | TensorType | LayerName | ExternLayerDeclaration | TypedParameter
  | ClusterDeclaration | ClusterMember | Property | DeviceReference | WildcardIndex
  | PipelineDeclaration | PipelineMember | StageDeclaration | LayerReference
  | ScheduleDeclaration | ScheduleParameter | ScheduleStatement | OrderStatement | PriorityTerm;
