// The built-in layer catalog: each layer kind defined once, with its
// argument schema, its shape rule, its costs and, in words, what the
// reference (docs/layers.md, generated from this file) says about them. The
// checker validates arguments against the schema and fills in every default,
// propagates shapes through `inferShape`, and keeps `costs` on every
// CheckedLayer for the cost model, the partitioner and the memory checker.
// The runtime's implementations (runtime/layers/registry.ts) are typed
// against `LayerArgumentsOf<K>`, so a kind without an implementation or an
// argument the runtime reads under another name does not compile.
//
// Conventions (docs/diagnostics.md and docs/costs.md rely on them):
//  - The first dimension of every tensor is the example dimension (usually the
//    symbolic `batch`); all costs are PER EXAMPLE, so later phases multiply by
//    the microbatch size. Other symbolic dimensions are rejected where a size
//    is needed (weights cannot have a symbolic size).
//  - FLOPs count a multiply-add as 2. Backward-input and backward-weight are
//    counted separately so split-backward schedules (I/W) can be costed; for a
//    matmul each is about the forward's cost.
//  - Activation bytes are what a layer keeps from its forward until its
//    backward: always its input (the weight gradient or the elementwise
//    derivative needs it), plus intermediates named per layer below. This is
//    what a framework without recomputation keeps; `recompute` stages keep
//    only their input instead (the memory checker applies that).

import type { ArgumentValue, Dim, DType, LayerCosts, TensorShape } from '../program.ts';

/**
 * `string` takes a string literal or a bare name (extern layers' string
 * parameters); `layer` the plain name of an earlier layer of the same model
 * level, whose output becomes a second input (merge kinds' `skip`).
 */
export type ArgumentType = 'int' | 'float' | 'bool' | 'enum' | 'string' | 'layer';

export interface ArgumentSchema {
  readonly name: string;
  readonly type: ArgumentType;
  /** Allowed names for `enum` arguments (written bare: `activation: relu`). */
  readonly values?: readonly string[];
  readonly min?: number;
  /** When true the bound itself is not allowed (`rate` in [0, 1)). */
  readonly minExclusive?: boolean;
  readonly max?: number;
  readonly maxExclusive?: boolean;
  readonly required: boolean;
  readonly default?: ArgumentValue;
  /** An optional argument whose default is another (earlier) argument's value: MaxPool's `stride` is its `size`. */
  readonly defaultFrom?: string;
  readonly description: string;
}

export type LayerArguments = Readonly<Record<string, ArgumentValue>>;

/** The value type an argument's schema admits: a number, a boolean, one of the enum's names, or a string. */
export type ArgumentValueOf<S extends ArgumentSchema> =
  S extends { readonly type: 'int' | 'float' } ? number
    : S extends { readonly type: 'bool' } ? boolean
      : S extends { readonly type: 'enum'; readonly values: readonly (infer V)[] } ? V
        : string;

/**
 * A layer's arguments as the checker hands them on (and the IR carries them):
 * every argument present, defaults applied. Each built-in layer argument is
 * required, has a default, or has a `defaultFrom` (a test holds the catalog to that).
 */
export type ArgumentRecord<A extends readonly ArgumentSchema[]> = {
  readonly [S in A[number] as S['name']]: ArgumentValueOf<S>;
};

/** A shape rule's verdict. On failure `expected` renders the accepted input, e.g. `f32[batch, height, width, channels]`. */
export type ShapeResult =
  | { readonly ok: true; readonly shape: TensorShape }
  | { readonly ok: false; readonly expected: string; readonly reason: string };

export type { LayerCosts } from '../program.ts';

/** The cost rule in words, for docs/layers.md: each field one formula over the names the shape rule introduces. */
export interface CostRule {
  readonly parameters: string;
  readonly forwardFlops: string;
  readonly backwardInputFlops: string;
  readonly backwardWeightFlops: string;
  readonly activationBytes: string;
  /** What the input-gradient step I leaves for the weight-gradient step W; absent: nothing (no weights). */
  readonly weightGradientBytes?: string;
  /** Names used in the formulas above, explained. */
  readonly where?: string;
}

/** One layer kind, typed by its name and argument schema. */
export interface LayerKindDefinition<Name extends string, A extends readonly ArgumentSchema[]> {
  readonly name: Name;
  readonly summary: string;
  /** In schema order: positional arguments bind in this order. */
  readonly arguments: A;
  /** The shape rule in words: accepted input → output, and the conditions. */
  readonly shapeRule: string;
  readonly costRule: CostRule;
  /** A use the reference shows worked out (and the runtime agreement test starts from). */
  readonly example: { readonly input: TensorShape; readonly args: Partial<ArgumentRecord<A>> };
  /** Input shape → output shape, or why the input is not accepted. */
  inferShape(input: TensorShape, args: ArgumentRecord<A>): ShapeResult;
  /** Per-example costs; only called after inferShape succeeded on the same input. */
  costs(input: TensorShape, output: TensorShape, args: ArgumentRecord<A>): LayerCosts;
}

/** A layer kind with its argument types erased: what the checker looks operators up as. */
export interface LayerDefinition {
  readonly name: string;
  readonly summary: string;
  readonly arguments: readonly ArgumentSchema[];
  readonly shapeRule: string;
  readonly costRule: CostRule;
  readonly example: { readonly input: TensorShape; readonly args: LayerArguments };
  inferShape(input: TensorShape, args: LayerArguments): ShapeResult;
  costs(input: TensorShape, output: TensorShape, args: LayerArguments): LayerCosts;
}

/** Keeps the literal name and argument schema types, so `args.units` is a number and `args.unit` an error. */
function defineLayer<const Name extends string, const A extends readonly ArgumentSchema[]>(
  definition: LayerKindDefinition<Name, A>,
): LayerKindDefinition<Name, A> {
  return definition;
}

// ───────────────────────────── shape helpers ─────────────────────────────

export function dtypeBytes(dtype: DType): number {
  return dtype === 'f16' || dtype === 'bf16' ? 2 : 4;
}

export function formatDim(dim: Dim): string {
  return String(dim);
}

export function formatShape(shape: TensorShape): string {
  return `${shape.dtype}[${shape.dims.map(formatDim).join(', ')}]`;
}

export function sameShape(a: TensorShape, b: TensorShape): boolean {
  return a.dtype === b.dtype && a.dims.length === b.dims.length && a.dims.every((d, i) => d === b.dims[i]);
}

/**
 * Elements per example: the product of every dimension after the first.
 * A symbolic dimension after the first counts as 1 — the checker refuses
 * such dimensions wherever a size matters, so this only affects tensors that
 * flow through elementwise layers, and is documented as an approximation.
 */
export function elementsPerExample(shape: TensorShape): number {
  let count = 1;
  for (let i = 1; i < shape.dims.length; i++) {
    const dim = shape.dims[i];
    if (typeof dim === 'number') count *= dim;
  }
  return count;
}

export function bytesPerExample(shape: TensorShape): number {
  return elementsPerExample(shape) * dtypeBytes(shape.dtype);
}

function isFloat(dtype: DType): boolean {
  return dtype !== 'i32';
}

function lastDim(shape: TensorShape): Dim | undefined {
  return shape.dims[shape.dims.length - 1];
}

function fail(expected: string, reason: string): ShapeResult {
  return { ok: false, expected, reason };
}

function ok(shape: TensorShape): ShapeResult {
  return { ok: true, shape };
}

/** Output of a layer that keeps the rank and replaces the last dimension. */
export function withLastDim(shape: TensorShape, dim: number, dtype: DType = shape.dtype): TensorShape {
  return { dtype, dims: [...shape.dims.slice(0, -1), dim] };
}

const noCosts = (output: TensorShape): LayerCosts => ({
  parameters: 0,
  forwardFlops: 0,
  backwardInputFlops: 0,
  backwardWeightFlops: 0,
  activationBytes: 0,
  outputBytes: bytesPerExample(output),
  weightGradientBytes: 0,
});

const ACTIVATIONS = ['relu', 'gelu', 'tanh', 'none'] as const;

/** FLOPs per element of each elementwise activation (forward; backward is the same order). */
const ACTIVATION_FLOPS = { relu: 1, gelu: 8, tanh: 4, none: 0, softmax: 5 } as const satisfies Readonly<Record<(typeof ACTIVATIONS)[number] | 'softmax', number>>;

const ACTIVATION_WHERE = `a = FLOPs per element of the activation (${ACTIVATIONS.map((name) => `${name} ${ACTIVATION_FLOPS[name]}`).join(', ')})`;

/** A float tensor of at least rank 2 whose last dimension is a fixed size. */
function requireFeatureInput(layer: string, input: TensorShape): { ok: true; features: number } | { ok: false; result: ShapeResult } {
  const expected = `f32[batch, ..., features]`;
  if (!isFloat(input.dtype)) return { ok: false, result: fail(expected, `${layer} needs a floating-point input`) };
  if (input.dims.length < 2) return { ok: false, result: fail(expected, `${layer} needs a batch dimension and a feature dimension`) };
  const features = lastDim(input);
  if (typeof features !== 'number') {
    return { ok: false, result: fail(expected, `${layer} needs a fixed-size last dimension, not the symbolic '${features}'`) };
  }
  return { ok: true, features };
}

function elementwise<const Name extends string>(
  name: Name,
  summary: string,
  flopsPerElement: number,
  keepsOutput: boolean,
): LayerKindDefinition<Name, readonly []> {
  return defineLayer({
    name,
    summary,
    arguments: [],
    shapeRule: 'f32[batch, ...] → the same shape; any floating-point input',
    costRule: {
      parameters: '0',
      forwardFlops: `${flopsPerElement}·elements`,
      backwardInputFlops: `${flopsPerElement}·elements`,
      backwardWeightFlops: '0',
      // ReLU/Tanh/Softmax differentiate from their output, GELU from its input; either way one tensor.
      activationBytes: keepsOutput ? 'output bytes (the derivative is computed from the output)' : 'input bytes (the derivative is computed from the input)',
      where: 'elements = the elements of one example',
    },
    example: { input: { dtype: 'f32', dims: ['batch', 256] }, args: {} },
    inferShape(input) {
      if (!isFloat(input.dtype)) return fail('f32[batch, ...]', `${name} needs a floating-point input`);
      return ok(input);
    },
    costs(input, output) {
      const elements = elementsPerExample(input);
      return {
        parameters: 0,
        forwardFlops: flopsPerElement * elements,
        backwardInputFlops: flopsPerElement * elements,
        backwardWeightFlops: 0,
        activationBytes: keepsOutput ? bytesPerExample(output) : bytesPerExample(input),
        outputBytes: bytesPerExample(output),
        weightGradientBytes: 0,
        keptInputBytes: keepsOutput ? 0 : bytesPerExample(input),
        keptOutputBytes: keepsOutput ? bytesPerExample(output) : 0,
      };
    },
  });
}




// ───────────────────────────── the layers ─────────────────────────────

const dense = defineLayer({
  name: 'Dense',
  summary: 'Fully connected layer on the last dimension: y = act(x·W + b)',
  arguments: [
    { name: 'units', type: 'int', min: 1, required: true, description: 'output features' },
    { name: 'activation', type: 'enum', values: ACTIVATIONS, required: false, default: 'none', description: 'activation applied to the output' },
    { name: 'bias', type: 'bool', required: false, default: true, description: 'add a learned bias' },
  ],
  shapeRule: 'f32[batch, ..., features] → f32[batch, ..., units]; `features` must be a fixed size, earlier dimensions are kept',
  costRule: {
    parameters: 'features·units + units (features·units without bias)',
    forwardFlops: '2·rows·features·units + rows·units (bias) + a·rows·units',
    backwardInputFlops: '2·rows·features·units + a·rows·units',
    backwardWeightFlops: '2·rows·features·units + rows·units (bias)',
    activationBytes: 'input bytes, plus output bytes when activation is not none (its derivative needs the pre-activation)',
    weightGradientBytes: 'input bytes + output bytes (dW = xᵀ·dz needs the input and the pre-activation gradient)',
    where: `rows = elements of one example ÷ features; ${ACTIVATION_WHERE}`,
  },
  example: { input: { dtype: 'f32', dims: ['batch', 784] }, args: { units: 256, activation: 'relu' } },
  inferShape(input, args) {
    const checked = requireFeatureInput('Dense', input);
    if (!checked.ok) return checked.result;
    return ok(withLastDim(input, args.units));
  },
  costs(input, output, args) {
    const features = lastDim(input) as number;
    const units = args.units;
    const rows = elementsPerExample(input) / features;
    const matmul = 2 * rows * features * units;
    const bias = args.bias ? units : 0;
    const activationFlops = ACTIVATION_FLOPS[args.activation] * rows * units;
    return {
      parameters: features * units + bias,
      forwardFlops: matmul + (bias > 0 ? rows * units : 0) + activationFlops,
      backwardInputFlops: matmul + activationFlops,
      backwardWeightFlops: matmul + (bias > 0 ? rows * units : 0),
      // Input for dW; the pre-activation output for the activation's derivative.
      activationBytes: bytesPerExample(input) + (args.activation === 'none' ? 0 : bytesPerExample(output)),
      outputBytes: bytesPerExample(output),
      // I frees what only the activation's derivative needs; W keeps x and dz.
      weightGradientBytes: bytesPerExample(input) + bytesPerExample(output),
      keptInputBytes: bytesPerExample(input),
      // ReLU's derivative is read off the output, tanh's too; GELU keeps the pre-activation, a tensor of its own.
      keptOutputBytes: args.activation === 'relu' || args.activation === 'tanh' ? bytesPerExample(output) : 0,
    };
  },
});

const embedding = defineLayer({
  name: 'Embedding',
  summary: 'Looks up a learned vector per integer token: i32[batch, ...] → f32[batch, ..., dim]',
  arguments: [
    { name: 'vocab', type: 'int', min: 1, required: true, description: 'number of distinct tokens' },
    { name: 'dim', type: 'int', min: 1, required: true, description: 'vector size' },
  ],
  shapeRule: 'i32[batch, ...] → f32[batch, ..., dim]; the input holds token ids in [0, vocab)',
  costRule: {
    parameters: 'vocab·dim',
    forwardFlops: 'tokens·dim (a gather: one per element copied)',
    backwardInputFlops: '0 (token ids have no gradient)',
    backwardWeightFlops: 'tokens·dim (a scatter-add into the table)',
    activationBytes: 'input bytes (the ids)',
    weightGradientBytes: 'input bytes + output bytes (the scatter-add needs the ids and the output gradient)',
    where: 'tokens = elements of one example of the input',
  },
  example: { input: { dtype: 'i32', dims: ['batch', 32] }, args: { vocab: 96, dim: 64 } },
  inferShape(input, args) {
    if (input.dtype !== 'i32') return fail('i32[batch, ...]', 'Embedding needs integer token ids (i32)');
    return ok({ dtype: 'f32', dims: [...input.dims, args.dim] });
  },
  costs(input, output, args) {
    const lookups = elementsPerExample(input);
    return {
      parameters: args.vocab * args.dim,
      // A gather moves memory rather than computing; count one operation per element copied.
      forwardFlops: lookups * args.dim,
      backwardInputFlops: 0, // token ids have no gradient
      backwardWeightFlops: lookups * args.dim, // scatter-add into the table
      activationBytes: bytesPerExample(input),
      outputBytes: bytesPerExample(output),
      weightGradientBytes: bytesPerExample(input) + bytesPerExample(output),
      keptInputBytes: bytesPerExample(input),
    };
  },
});

const layerNorm = defineLayer({
  name: 'LayerNorm',
  summary: 'Normalises the last dimension, with learned scale and shift',
  arguments: [
    { name: 'eps', type: 'float', min: 0, minExclusive: true, required: false, default: 1e-5, description: 'added to the variance' },
  ],
  shapeRule: 'f32[batch, ..., features] → the same shape; `features` must be a fixed size',
  costRule: {
    parameters: '2·features (scale γ and shift β)',
    forwardFlops: '8·elements',
    backwardInputFlops: '10·elements',
    backwardWeightFlops: '4·elements',
    activationBytes: 'input bytes + 4·rows (the normalised input and the per-row reciprocal deviation, f32)',
    weightGradientBytes: '2·input bytes (dγ and dβ need the normalised input and the output gradient)',
    where: 'elements = elements of one example; rows = elements ÷ features',
  },
  example: { input: { dtype: 'f32', dims: ['batch', 32, 64] }, args: {} },
  inferShape(input) {
    const checked = requireFeatureInput('LayerNorm', input);
    if (!checked.ok) return checked.result;
    return ok(input);
  },
  costs(input, output) {
    const features = lastDim(input) as number;
    const elements = elementsPerExample(input);
    const rows = elements / features;
    return {
      parameters: 2 * features,
      forwardFlops: 8 * elements,
      backwardInputFlops: 10 * elements,
      backwardWeightFlops: 4 * elements,
      // The normalised input (what both gradients read) and the per-row reciprocal deviation.
      activationBytes: bytesPerExample(input) + rows * 4,
      outputBytes: bytesPerExample(output),
      weightGradientBytes: bytesPerExample(input) + bytesPerExample(output),
    };
  },
});

function requireSequenceInput(layer: string, input: TensorShape, heads: number): { ok: true; seq: number; model: number } | { ok: false; result: ShapeResult } {
  const expected = 'f32[batch, seq, model]';
  if (!isFloat(input.dtype)) return { ok: false, result: fail(expected, `${layer} needs a floating-point input`) };
  if (input.dims.length !== 3) return { ok: false, result: fail(expected, `${layer} needs a [batch, seq, model] input`) };
  const [, seq, model] = input.dims;
  if (typeof seq !== 'number' || typeof model !== 'number') {
    return { ok: false, result: fail(expected, `${layer} needs fixed sequence and model sizes`) };
  }
  if (model % heads !== 0) {
    return { ok: false, result: fail(expected, `${layer}: the model size ${model} is not divisible by ${heads} heads`) };
  }
  return { ok: true, seq, model };
}

const SEQUENCE_SHAPE_RULE = 'f32[batch, seq, model] → the same shape; `seq` and `model` must be fixed sizes and `heads` must divide `model`';

/** Costs of multi-head self-attention with Q, K, V and output projections. */
function attentionCosts(seq: number, model: number, heads: number): LayerCosts {
  const projections = 4 * 2 * seq * model * model; // Q, K, V, output
  const scores = 2 * 2 * seq * seq * model; // Q·Kᵀ and P·V over all heads
  const softmax = ACTIVATION_FLOPS.softmax * heads * seq * seq;
  return {
    parameters: 4 * model * model + 4 * model,
    forwardFlops: projections + scores + softmax,
    // Both operands of Q·Kᵀ and P·V are activations, so their whole backward is input-gradient work;
    // it first re-runs Q·Kᵀ and the softmax, which the forward did not keep.
    backwardInputFlops: projections + 2 * scores + softmax + scores / 2 + softmax,
    backwardWeightFlops: projections + 4 * seq * model,
    // The input (the fused Q, K, V projection's), the fused [Q | K | V] and the context before the output
    // projection. Not the attention probabilities: the runtime's attention core re-runs its scores and
    // softmax from Q, K and V at I (runtime/layers/functional.ts), as memory-efficient attention does.
    activationBytes: 4 * (seq * model + 3 * seq * model + seq * model),
    outputBytes: 4 * seq * model,
    // The projections' inputs (x, the context) and their output gradients (dQ, dK, dV, dy): the probabilities go at I.
    weightGradientBytes: 4 * (seq * model + seq * model + 3 * seq * model + seq * model),
    keptInputBytes: 4 * seq * model,
  };
}

const ATTENTION_COST_RULE: CostRule = {
  parameters: '4·model² + 4·model (Q, K, V and output projections with biases)',
  forwardFlops: `8·seq·model² (projections) + 4·seq²·model (Q·Kᵀ and P·V) + ${ACTIVATION_FLOPS.softmax}·heads·seq² (softmax)`,
  backwardInputFlops: `8·seq·model² + 10·seq²·model + ${2 * ACTIVATION_FLOPS.softmax}·heads·seq² (including the re-run of Q·Kᵀ and the softmax)`,
  backwardWeightFlops: '8·seq·model² + 4·seq·model',
  activationBytes: '4·5·seq·model: the input, Q, K, V and the context (f32); the attention probabilities are recomputed from Q and K at I, not kept',
  weightGradientBytes: '4·6·seq·model: the input and the context (the projections\' inputs) and the gradients of Q, K, V and the output',
};

const multiHeadAttention = defineLayer({
  name: 'MultiHeadAttention',
  summary: 'Multi-head self-attention over [batch, seq, model] (optionally causal)',
  arguments: [
    { name: 'heads', type: 'int', min: 1, required: true, description: 'attention heads; must divide the model size' },
    { name: 'causal', type: 'bool', required: false, default: false, description: 'mask attention to later positions' },
  ],
  shapeRule: SEQUENCE_SHAPE_RULE,
  costRule: ATTENTION_COST_RULE,
  example: { input: { dtype: 'f32', dims: ['batch', 32, 64] }, args: { heads: 4, causal: true } },
  inferShape(input, args) {
    const checked = requireSequenceInput('MultiHeadAttention', input, args.heads);
    if (!checked.ok) return checked.result;
    return ok(input);
  },
  costs(input, _output, args) {
    const [, seq, model] = input.dims as [Dim, number, number];
    return attentionCosts(seq, model, args.heads);
  },
});

/** The epsilon of a TransformerBlock's two LayerNorms: LayerNorm's own default (runtime/layers/registry.ts is typed to agree). */
export const TRANSFORMER_BLOCK_NORM_EPS = layerNorm.arguments[0].default;
/** The TransformerBlock MLP's first activation (the runtime's composition is typed to agree). */
export const TRANSFORMER_BLOCK_ACTIVATION = 'gelu' as const satisfies (typeof ACTIVATIONS)[number];
/** The literal types of the two constants above, for the runtime (which may import only types). */
export type TransformerBlockConstants = { readonly normEps: typeof TRANSFORMER_BLOCK_NORM_EPS; readonly activation: typeof TRANSFORMER_BLOCK_ACTIVATION };

const transformerBlock = defineLayer({
  name: 'TransformerBlock',
  summary: 'Pre-LN transformer block: x + attn(ln(x)), then + mlp(ln(x)) with a GELU MLP of width ff',
  arguments: [
    { name: 'heads', type: 'int', min: 1, required: true, description: 'attention heads; must divide the model size' },
    { name: 'ff', type: 'int', min: 1, required: true, description: 'hidden width of the MLP' },
    { name: 'causal', type: 'bool', required: false, default: false, description: 'mask attention to later positions' },
    { name: 'dropout', type: 'float', min: 0, max: 1, maxExclusive: true, required: false, default: 0, description: 'dropout rate after attention and MLP' },
  ],
  shapeRule: `${SEQUENCE_SHAPE_RULE}. Composition: x + Dropout(MultiHeadAttention(LayerNorm(x))), then x + Dropout(Dense(model)(Dense(ff, ${TRANSFORMER_BLOCK_ACTIVATION})(LayerNorm(x)))), both LayerNorms with eps ${TRANSFORMER_BLOCK_NORM_EPS}`,
  costRule: {
    parameters: '4·model (two LayerNorms) + attention parameters + 2·model·ff + ff + model (the MLP)',
    forwardFlops: `16·seq·model (norms) + attention forward + 4·seq·model·ff (MLP) + ${ACTIVATION_FLOPS.gelu}·seq·ff (GELU) + 2·seq·model (residual adds)`,
    backwardInputFlops: `20·seq·model + attention backward-input + 4·seq·model·ff + ${ACTIVATION_FLOPS.gelu}·seq·ff + 2·seq·model`,
    backwardWeightFlops: '8·seq·model + attention backward-weight + 4·seq·model·ff + seq·(ff + model)',
    activationBytes: 'attention activation bytes + 4·(3·seq·model + 2·seq + 2·seq·ff): both norms\' normalised inputs and per-row reciprocal deviations, the second norm\'s output, the MLP hidden before and after GELU (the block input itself is not kept); plus 2·seq·model (two one-byte masks) when dropout > 0',
    weightGradientBytes: 'attention weight-gradient bytes + 4·(6·seq·model + 2·seq·ff): both norms\' normalised inputs and output gradients, the MLP projections\' inputs and output gradients',
    where: 'attention = the MultiHeadAttention formulas with the same seq, model and heads',
  },
  example: { input: { dtype: 'f32', dims: ['batch', 32, 64] }, args: { heads: 4, ff: 256 } },
  inferShape(input, args) {
    const checked = requireSequenceInput('TransformerBlock', input, args.heads);
    if (!checked.ok) return checked.result;
    return ok(input);
  },
  costs(input, _output, args) {
    const [, seq, model] = input.dims as [Dim, number, number];
    const ff = args.ff;
    const elements = seq * model;
    const attention = attentionCosts(seq, model, args.heads);
    const mlpMatmul = 2 * 2 * seq * model * ff; // up and down projections
    const gelu = ACTIVATION_FLOPS.gelu * seq * ff;
    const norms = 2 * 8 * elements;
    const residualAdds = 2 * elements;
    const dropoutMasks = args.dropout > 0 ? 2 * elements : 0; // one-byte masks, two of them
    return {
      parameters: 2 * (2 * model) + attention.parameters + (model * ff + ff + ff * model + model),
      forwardFlops: norms + attention.forwardFlops + mlpMatmul + gelu + residualAdds,
      backwardInputFlops: 2 * 10 * elements + attention.backwardInputFlops + mlpMatmul + gelu + residualAdds,
      backwardWeightFlops: 2 * 4 * elements + attention.backwardWeightFlops + mlpMatmul + seq * (ff + model),
      // Each LayerNorm's normalised input and per-row reciprocal deviation (not the block input: neither
      // norm nor residual add needs it), attention's saved tensors (its input is the first norm's output),
      // the second norm's output, the MLP's pre- and post-GELU hidden, and the dropout masks.
      activationBytes:
        2 * 4 * (elements + seq) + attention.activationBytes + 4 * (elements + 2 * seq * ff) + dropoutMasks,
      outputBytes: 4 * elements,
      weightGradientBytes: (attention.weightGradientBytes ?? 0) + 4 * (2 * 2 * elements + (elements + seq * ff) + (seq * ff + elements)),
      // The block keeps no buffer of its input, so it shares none with a previous layer's kept output,
      // and a recomputing stage that starts with a block keeps its input besides the re-run stash.
      keptInputBytes: 0,
    };
  },
});

const dropout = defineLayer({
  name: 'Dropout',
  summary: 'Zeroes a random fraction of the elements while training',
  arguments: [
    { name: 'rate', type: 'float', min: 0, max: 1, maxExclusive: true, required: true, description: 'fraction dropped, in [0, 1)' },
  ],
  shapeRule: 'f32[batch, ...] → the same shape; the kept elements are scaled by 1 / (1 − rate) while training, nothing changes in evaluation',
  costRule: {
    parameters: '0',
    forwardFlops: 'elements',
    backwardInputFlops: 'elements',
    backwardWeightFlops: '0',
    activationBytes: 'elements (the mask, one byte per element)',
    where: 'elements = the elements of one example',
  },
  example: { input: { dtype: 'f32', dims: ['batch', 256] }, args: { rate: 0.1 } },
  inferShape(input) {
    if (!isFloat(input.dtype)) return fail('f32[batch, ...]', 'Dropout needs a floating-point input');
    return ok(input);
  },
  costs(input, output) {
    const elements = elementsPerExample(input);
    return {
      parameters: 0,
      forwardFlops: elements,
      backwardInputFlops: elements,
      backwardWeightFlops: 0,
      activationBytes: elements, // the mask, one byte per element
      outputBytes: bytesPerExample(output),
      weightGradientBytes: 0,
    };
  },
});

function requireImageInput(layer: string, input: TensorShape): { ok: true; height: number; width: number; channels: number } | { ok: false; result: ShapeResult } {
  const expected = 'f32[batch, height, width, channels]';
  if (!isFloat(input.dtype)) return { ok: false, result: fail(expected, `${layer} needs a floating-point input`) };
  if (input.dims.length !== 4) return { ok: false, result: fail(expected, `${layer} needs an image input [batch, height, width, channels] (NHWC)`) };
  const [, height, width, channels] = input.dims;
  if (typeof height !== 'number' || typeof width !== 'number' || typeof channels !== 'number') {
    return { ok: false, result: fail(expected, `${layer} needs fixed height, width and channels`) };
  }
  return { ok: true, height, width, channels };
}

function windowOutput(size: number, window: number, stride: number, padding: string): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - window) / stride) + 1;
}

const conv2d = defineLayer({
  name: 'Conv2D',
  summary: '2-D convolution over NHWC images with square kernels',
  arguments: [
    { name: 'filters', type: 'int', min: 1, required: true, description: 'output channels' },
    { name: 'kernel', type: 'int', min: 1, required: true, description: 'kernel height and width' },
    { name: 'stride', type: 'int', min: 1, required: false, default: 1, description: 'step between windows' },
    { name: 'padding', type: 'enum', values: ['same', 'valid'], required: false, default: 'valid', description: "'same' keeps the size (at stride 1), 'valid' uses only full windows" },
    { name: 'activation', type: 'enum', values: ACTIVATIONS, required: false, default: 'none', description: 'activation applied to the output' },
  ],
  shapeRule: "f32[batch, height, width, channels] → f32[batch, height', width', filters] with height' = ⌈height ÷ stride⌉ for 'same' padding and ⌊(height − kernel) ÷ stride⌋ + 1 for 'valid' (width' alike); the kernel must fit",
  costRule: {
    parameters: 'kernel²·channels·filters + filters',
    forwardFlops: "2·macs + height'·width'·filters (bias) + a·height'·width'·filters",
    backwardInputFlops: "2·macs + a·height'·width'·filters",
    backwardWeightFlops: "2·macs + height'·width'·filters (bias)",
    activationBytes: 'input bytes, plus output bytes when activation is not none',
    weightGradientBytes: 'input bytes + output bytes (the filter gradient needs the input and the pre-activation gradient)',
    where: `macs = height'·width'·kernel²·channels·filters; ${ACTIVATION_WHERE}`,
  },
  example: { input: { dtype: 'f32', dims: ['batch', 28, 28, 1] }, args: { filters: 8, kernel: 3 } },
  inferShape(input, args) {
    const checked = requireImageInput('Conv2D', input);
    if (!checked.ok) return checked.result;
    const { kernel, stride, padding } = args;
    const height = windowOutput(checked.height, kernel, stride, padding);
    const width = windowOutput(checked.width, kernel, stride, padding);
    if (height < 1 || width < 1) {
      return fail('f32[batch, height, width, channels]', `Conv2D: a ${kernel}x${kernel} kernel does not fit a ${checked.height}x${checked.width} image with 'valid' padding`);
    }
    return ok({ dtype: input.dtype, dims: [input.dims[0], height, width, args.filters] });
  },
  costs(input, output, args) {
    const [, , , channels] = input.dims as [Dim, number, number, number];
    const [, height, width, filters] = output.dims as [Dim, number, number, number];
    const kernel = args.kernel;
    const macs = height * width * kernel * kernel * channels * filters;
    const activationFlops = ACTIVATION_FLOPS[args.activation] * height * width * filters;
    return {
      parameters: kernel * kernel * channels * filters + filters,
      forwardFlops: 2 * macs + height * width * filters + activationFlops,
      backwardInputFlops: 2 * macs + activationFlops,
      backwardWeightFlops: 2 * macs + height * width * filters,
      activationBytes: bytesPerExample(input) + (args.activation === 'none' ? 0 : bytesPerExample(output)),
      outputBytes: bytesPerExample(output),
      weightGradientBytes: bytesPerExample(input) + bytesPerExample(output),
      keptInputBytes: bytesPerExample(input),
      keptOutputBytes: args.activation === 'relu' || args.activation === 'tanh' ? bytesPerExample(output) : 0,
    };
  },
});

const maxPool = defineLayer({
  name: 'MaxPool',
  summary: 'Max over square windows of NHWC images',
  arguments: [
    { name: 'size', type: 'int', min: 1, required: true, description: 'window height and width' },
    { name: 'stride', type: 'int', min: 1, required: false, defaultFrom: 'size', description: 'step between windows' },
  ],
  shapeRule: "f32[batch, height, width, channels] → f32[batch, height', width', channels] with height' = ⌊(height − size) ÷ stride⌋ + 1 (width' alike); the window must fit",
  costRule: {
    parameters: '0',
    forwardFlops: 'outputs·size²',
    backwardInputFlops: 'outputs',
    backwardWeightFlops: '0',
    activationBytes: 'input bytes + output bytes (to find each window\'s maximum again)',
    where: 'outputs = elements of one example of the output',
  },
  example: { input: { dtype: 'f32', dims: ['batch', 26, 26, 8] }, args: { size: 2 } },
  inferShape(input, args) {
    const checked = requireImageInput('MaxPool', input);
    if (!checked.ok) return checked.result;
    const { size, stride } = args;
    const height = windowOutput(checked.height, size, stride, 'valid');
    const width = windowOutput(checked.width, size, stride, 'valid');
    if (height < 1 || width < 1) {
      return fail('f32[batch, height, width, channels]', `MaxPool: a ${size}x${size} window does not fit a ${checked.height}x${checked.width} image`);
    }
    return ok({ dtype: input.dtype, dims: [input.dims[0], height, width, checked.channels] });
  },
  costs(input, output, args) {
    const outputs = elementsPerExample(output);
    return {
      parameters: 0,
      forwardFlops: outputs * args.size * args.size,
      backwardInputFlops: outputs,
      backwardWeightFlops: 0,
      // The input and the maxima, to find each window's maximum again.
      activationBytes: bytesPerExample(input) + bytesPerExample(output),
      outputBytes: bytesPerExample(output),
      weightGradientBytes: 0,
      keptInputBytes: bytesPerExample(input),
      keptOutputBytes: bytesPerExample(output),
    };
  },
});

const flatten = defineLayer({
  name: 'Flatten',
  summary: 'Reshapes [batch, a, b, ...] to [batch, a·b·...]',
  arguments: [],
  shapeRule: 'DTYPE[batch, a, b, ...] → DTYPE[batch, a·b·...]; the dimensions after the batch must be fixed sizes',
  costRule: { parameters: '0', forwardFlops: '0', backwardInputFlops: '0', backwardWeightFlops: '0', activationBytes: '0 (a reshape keeps nothing)' },
  example: { input: { dtype: 'f32', dims: ['batch', 5, 5, 16] }, args: {} },
  inferShape(input) {
    if (input.dims.length < 2) return fail('f32[batch, ...]', 'Flatten needs a batch dimension and at least one more');
    const rest = input.dims.slice(1);
    const symbolic = rest.find((dim) => typeof dim !== 'number');
    if (symbolic !== undefined) return fail('f32[batch, ...]', `Flatten needs fixed sizes after the batch dimension, not the symbolic '${symbolic}'`);
    return ok({ dtype: input.dtype, dims: [input.dims[0], elementsPerExample(input)] });
  },
  costs(_input, output) {
    return noCosts(output);
  },
});


// ───────────────────────────── merge kinds ─────────────────────────────
// A merge layer takes two inputs: the previous layer's output, as every
// layer does, and the output of an earlier layer named by its `skip`
// argument (a residual or U-Net connection, possibly from another stage
// and device). Its backward hands the output gradient to both inputs, so it
// keeps nothing from its forward.

/** A layer kind with a second input, the output of the earlier layer its `skip` argument names. */
export interface MergeKindDefinition<Name extends string, A extends readonly ArgumentSchema[]> {
  readonly name: Name;
  readonly summary: string;
  /** In schema order; the first is `skip`, of type `layer`. */
  readonly arguments: A;
  readonly shapeRule: string;
  readonly costRule: CostRule;
  readonly example: { readonly input: TensorShape; readonly skip: TensorShape; readonly args: Partial<ArgumentRecord<A>> };
  /** (input, skip) → output shape, or why the two are not accepted. */
  inferShape(input: TensorShape, skip: TensorShape, args: ArgumentRecord<A>): ShapeResult;
  costs(input: TensorShape, skip: TensorShape, output: TensorShape, args: ArgumentRecord<A>): LayerCosts;
}

/** A merge kind with its argument types erased. */
export interface MergeDefinition {
  readonly name: string;
  readonly summary: string;
  readonly arguments: readonly ArgumentSchema[];
  readonly shapeRule: string;
  readonly costRule: CostRule;
  readonly example: { readonly input: TensorShape; readonly skip: TensorShape; readonly args: LayerArguments };
  inferShape(input: TensorShape, skip: TensorShape, args: LayerArguments): ShapeResult;
  costs(input: TensorShape, skip: TensorShape, output: TensorShape, args: LayerArguments): LayerCosts;
}

function defineMerge<const Name extends string, const A extends readonly ArgumentSchema[]>(
  definition: MergeKindDefinition<Name, A>,
): MergeKindDefinition<Name, A> {
  return definition;
}

/** The argument every merge kind starts with. */
const SKIP_ARGUMENT = {
  name: 'skip', type: 'layer', required: true,
  description: 'the earlier layer whose output is the second input (a plain layer name of the same model level)',
} as const satisfies ArgumentSchema;

const MERGE_COST_WORDS = {
  parameters: '0',
  backwardWeightFlops: '0',
  activationBytes: '0 (the gradient passes to both inputs unchanged; a skip received from another stage is charged to that stage, see docs/language.md)',
} as const;

const add = defineMerge({
  name: 'Add',
  summary: 'Adds the output of an earlier layer (a skip connection): y = x + skip',
  arguments: [SKIP_ARGUMENT],
  shapeRule: 'DTYPE[batch, ...] and the skip\'s DTYPE[batch, ...] → the same shape; both must have exactly the same floating-point shape',
  costRule: { ...MERGE_COST_WORDS, forwardFlops: 'elements', backwardInputFlops: 'elements (the gradient is handed to both inputs)', where: 'elements = the elements of one example' },
  example: { input: { dtype: 'f32', dims: ['batch', 64] }, skip: { dtype: 'f32', dims: ['batch', 64] }, args: {} },
  inferShape(input, skip) {
    const expected = formatShape(input);
    if (!isFloat(input.dtype)) return fail('f32[batch, ...]', 'Add needs floating-point inputs');
    if (!sameShape(input, skip)) return fail(expected, `Add needs the skip to have the input's shape ${expected}, but it is ${formatShape(skip)}`);
    return ok(input);
  },
  costs(input, _skip, output) {
    const elements = elementsPerExample(input);
    return { parameters: 0, forwardFlops: elements, backwardInputFlops: elements, backwardWeightFlops: 0, activationBytes: 0, outputBytes: bytesPerExample(output), weightGradientBytes: 0 };
  },
});

const concat = defineMerge({
  name: 'Concat',
  summary: 'Concatenates the output of an earlier layer along an axis (a U-Net connection)',
  arguments: [
    SKIP_ARGUMENT,
    { name: 'axis', type: 'int', required: false, default: -1, description: 'the axis joined, counted with the batch as 0 (negative: from the end); not the batch axis' },
  ],
  shapeRule: 'DTYPE[batch, ..., a, ...] and the skip\'s DTYPE[batch, ..., b, ...] → DTYPE[batch, ..., a + b, ...]; same dtype and rank, every dimension but `axis` equal, `axis` not the batch',
  costRule: { ...MERGE_COST_WORDS, forwardFlops: 'elements (a copy)', backwardInputFlops: 'elements (the gradient is sliced back into the two inputs)', where: 'elements = the elements of one example of the output' },
  example: { input: { dtype: 'f32', dims: ['batch', 32] }, skip: { dtype: 'f32', dims: ['batch', 16] }, args: {} },
  inferShape(input, skip, args) {
    const rank = input.dims.length;
    const axis = args.axis < 0 ? rank + args.axis : args.axis;
    const expected = `${input.dtype}[${input.dims.map((dim, i) => (i === axis ? 'any' : formatDim(dim))).join(', ')}]`;
    if (!isFloat(input.dtype)) return fail('f32[batch, ...]', 'Concat needs floating-point inputs');
    if (axis < 1 || axis >= rank) return fail(expected, `Concat's axis ${args.axis} must name a dimension after the batch of a rank-${rank} input`);
    if (skip.dtype !== input.dtype || skip.dims.length !== rank) return fail(expected, `Concat needs the skip to have the input's dtype and rank, but it is ${formatShape(skip)}`);
    const differing = input.dims.findIndex((dim, i) => i !== axis && dim !== skip.dims[i]);
    if (differing >= 0) return fail(expected, `Concat needs every dimension but axis ${axis} equal, but dimension ${differing} is ${formatDim(input.dims[differing])} in the input and ${formatDim(skip.dims[differing])} in the skip ${formatShape(skip)}`);
    const joined = input.dims[axis];
    const added = skip.dims[axis];
    if (typeof joined !== 'number' || typeof added !== 'number') return fail(expected, `Concat needs a fixed size on axis ${axis}`);
    return ok({ dtype: input.dtype, dims: input.dims.map((dim, i) => (i === axis ? joined + added : dim)) });
  },
  costs(_input, _skip, output) {
    const elements = elementsPerExample(output);
    return { parameters: 0, forwardFlops: elements, backwardInputFlops: elements, backwardWeightFlops: 0, activationBytes: 0, outputBytes: bytesPerExample(output), weightGradientBytes: 0 };
  },
});

/** Every merge kind, in the order the reference lists them. */
const MERGE_DEFINITIONS = [add, concat] as const;

/** Every built-in layer kind, in the order the reference lists them. */
const DEFINITIONS = [
  dense,
  embedding,
  layerNorm,
  multiHeadAttention,
  transformerBlock,
  elementwise('ReLU', 'max(x, 0) elementwise', ACTIVATION_FLOPS.relu, true),
  elementwise('GELU', 'Gaussian error linear unit elementwise (tanh approximation)', ACTIVATION_FLOPS.gelu, false),
  elementwise('Tanh', 'tanh elementwise', ACTIVATION_FLOPS.tanh, true),
  elementwise('Softmax', 'softmax over the last dimension', ACTIVATION_FLOPS.softmax, true),
  dropout,
  conv2d,
  maxPool,
  flatten,
] as const;

/** The name of a built-in layer kind: `Dense`, `Conv2D`, ... */
export type LayerKind = (typeof DEFINITIONS)[number]['name'];

/** The typed definition of one kind. */
export type LayerKindDefinitionOf<K extends LayerKind> = Extract<(typeof DEFINITIONS)[number], { readonly name: K }>;

/** The arguments of a kind, every one present with defaults applied: what the checker produces and the IR carries. */
export type LayerArgumentsOf<K extends LayerKind> = ArgumentRecord<LayerKindDefinitionOf<K>['arguments']>;

/** The name of a merge kind: `Add`, `Concat`. */
export type MergeKind = (typeof MERGE_DEFINITIONS)[number]['name'];

/** A merge kind's arguments, every one present with defaults applied (`skip` is the source layer's display name). */
export type MergeArgumentsOf<K extends MergeKind> = ArgumentRecord<Extract<(typeof MERGE_DEFINITIONS)[number], { readonly name: K }>['arguments']>;

/** The operators the compiler itself emits: the layer kinds, the merge kinds and `Residual`, the residual block's unit. */
export type BuiltinOperator = LayerKind | MergeKind | 'Residual';

/** A residual block carries no arguments; its body is its children. */
export type OperatorArguments<K extends BuiltinOperator> = K extends LayerKind ? LayerArgumentsOf<K> : K extends MergeKind ? MergeArgumentsOf<K> : Readonly<Record<never, never>>;

export const LAYER_KINDS: readonly LayerKind[] = DEFINITIONS.map((definition) => definition.name);

export const LAYER_CATALOG: ReadonlyMap<string, LayerDefinition> = new Map<string, LayerDefinition>(
  DEFINITIONS.map((definition): [string, LayerDefinition] => [definition.name, definition]),
);

export const MERGE_KINDS: readonly MergeKind[] = MERGE_DEFINITIONS.map((definition) => definition.name);

/** The merge kinds by name: layers with a second input from an earlier layer. */
export const MERGE_CATALOG: ReadonlyMap<string, MergeDefinition> = new Map<string, MergeDefinition>(
  MERGE_DEFINITIONS.map((definition): [string, MergeDefinition] => [definition.name, definition as unknown as MergeDefinition]),
);

export function lookupMerge(name: string): MergeDefinition | undefined {
  return MERGE_CATALOG.get(name);
}

/** A built-in kind, a layer or a merge, as editors describe it: its words and its arguments. */
export function describeBuiltinKind(name: string): Pick<LayerDefinition, 'name' | 'summary' | 'arguments' | 'shapeRule'> | undefined {
  return LAYER_CATALOG.get(name) ?? MERGE_CATALOG.get(name);
}

/** The schema argument naming a merge's source layer. */
export const SKIP_ARGUMENT_NAME = SKIP_ARGUMENT.name;

/** The residual block, `residual NAME { ... }`: not an operator a layer calls, but an IR operator all the same. */
export const RESIDUAL_BLOCK = {
  name: 'Residual',
  summary: 'Adds its body to its input: output = input + body(input)',
  shapeRule: 'DTYPE[batch, ...] → the same shape; the body\'s last layer must produce exactly the block\'s input shape',
  costRule: {
    parameters: 'the sum over the body',
    forwardFlops: 'the sum over the body + elements (the add)',
    backwardInputFlops: 'the sum over the body + elements (the gradient flows down both paths)',
    backwardWeightFlops: 'the sum over the body',
    activationBytes: 'the sum over the body (the add keeps nothing)',
    weightGradientBytes: 'the sum over the body',
    where: 'elements = the elements of one example',
  },
} as const satisfies { readonly name: Exclude<BuiltinOperator, LayerKind>; readonly summary: string; readonly shapeRule: string; readonly costRule: CostRule };

export function isLayerKind(name: string): name is LayerKind {
  return LAYER_CATALOG.has(name);
}

export function lookupLayer(name: string): LayerDefinition | undefined {
  return LAYER_CATALOG.get(name);
}

/** The arguments with defaults filled in (schema order): what the checker keeps, the IR carries and the runtime reads. */
export function withDefaults(definition: { readonly arguments: readonly ArgumentSchema[] }, args: LayerArguments): LayerArguments {
  const filled: Record<string, ArgumentValue> = {};
  for (const schema of definition.arguments) {
    const value = Object.hasOwn(args, schema.name)
      ? args[schema.name]
      : schema.defaultFrom !== undefined ? filled[schema.defaultFrom] : schema.default;
    if (value !== undefined) filled[schema.name] = value;
  }
  return filled;
}

/** `withDefaults` for a kind known statically; the required arguments must be given. */
export function argumentsOf<K extends LayerKind>(kind: K, given: Partial<LayerArgumentsOf<K>>): LayerArgumentsOf<K> {
  return withDefaults(LAYER_CATALOG.get(kind)!, given as LayerArguments) as unknown as LayerArgumentsOf<K>;
}

/** Costs of a residual block: its body's costs plus the elementwise add, output = input. */
export function residualCosts(input: TensorShape, children: readonly LayerCosts[]): LayerCosts {
  const sum = (pick: (costs: LayerCosts) => number) => children.reduce((total, costs) => total + pick(costs), 0);
  const elements = elementsPerExample(input);
  return {
    parameters: sum((c) => c.parameters),
    forwardFlops: sum((c) => c.forwardFlops) + elements,
    backwardInputFlops: sum((c) => c.backwardInputFlops) + elements,
    backwardWeightFlops: sum((c) => c.backwardWeightFlops),
    activationBytes: sum((c) => c.activationBytes),
    outputBytes: bytesPerExample(input),
    weightGradientBytes: sum((c) => c.weightGradientBytes ?? c.activationBytes),
    // The body's first layer sees the block's own input.
    keptInputBytes: children[0]?.keptInputBytes ?? 0,
  };
}

/**
 * A frozen layer's costs: its weights stay (and its forward and input
 * gradient), but it computes no weight gradient, so W does no work for it
 * and I leaves nothing behind for W.
 */
export function frozenCosts<T extends LayerCosts>(costs: T): T {
  return { ...costs, backwardWeightFlops: 0, weightGradientBytes: 0 };
}
