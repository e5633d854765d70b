// The built-in layer catalog: for each operator its argument schema, its
// shape rule and its costs. The checker validates arguments against the
// schema, propagates shapes through `inferShape`, and keeps `costs` on every
// CheckedLayer for the cost model, the partitioner and the memory checker.
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

/** `string` takes a string literal or a bare name (extern layers' string parameters). */
export type ArgumentType = 'int' | 'float' | 'bool' | 'enum' | 'string';

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
  readonly description: string;
}

export type LayerArguments = Readonly<Record<string, ArgumentValue>>;

/** A shape rule's verdict. On failure `expected` renders the accepted input, e.g. `f32[batch, height, width, channels]`. */
export type ShapeResult =
  | { readonly ok: true; readonly shape: TensorShape }
  | { readonly ok: false; readonly expected: string; readonly reason: string };

export type { LayerCosts } from '../program.ts';

export interface LayerDefinition {
  readonly name: string;
  readonly summary: string;
  readonly arguments: readonly ArgumentSchema[];
  /** Input shape → output shape, or why the input is not accepted. */
  inferShape(input: TensorShape, args: LayerArguments): ShapeResult;
  /** Per-example costs; only called after inferShape succeeded on the same input. */
  costs(input: TensorShape, output: TensorShape, args: LayerArguments): LayerCosts;
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
function withLastDim(shape: TensorShape, dim: number, dtype: DType = shape.dtype): TensorShape {
  return { dtype, dims: [...shape.dims.slice(0, -1), dim] };
}

const noCosts = (output: TensorShape): LayerCosts => ({
  parameters: 0,
  forwardFlops: 0,
  backwardInputFlops: 0,
  backwardWeightFlops: 0,
  activationBytes: 0,
  outputBytes: bytesPerExample(output),
});

const ACTIVATIONS = ['relu', 'gelu', 'tanh', 'none'] as const;

/** FLOPs per element of each elementwise activation (forward; backward is the same order). */
const ACTIVATION_FLOPS: Readonly<Record<string, number>> = { relu: 1, gelu: 8, tanh: 4, none: 0, softmax: 5 };

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

function elementwise(name: string, summary: string, flopsPerElement: number, keepsOutput: boolean): LayerDefinition {
  return {
    name,
    summary,
    arguments: [],
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
        // ReLU/Tanh/Softmax differentiate from their output, GELU from its input; either way one tensor.
        activationBytes: keepsOutput ? bytesPerExample(output) : bytesPerExample(input),
        outputBytes: bytesPerExample(output),
      };
    },
  };
}

// ───────────────────────────── the layers ─────────────────────────────

const dense: LayerDefinition = {
  name: 'Dense',
  summary: 'Fully connected layer on the last dimension: y = act(x·W + b)',
  arguments: [
    { name: 'units', type: 'int', min: 1, required: true, description: 'output features' },
    { name: 'activation', type: 'enum', values: ACTIVATIONS, required: false, default: 'none', description: 'activation applied to the output' },
    { name: 'bias', type: 'bool', required: false, default: true, description: 'add a learned bias' },
  ],
  inferShape(input, args) {
    const checked = requireFeatureInput('Dense', input);
    if (!checked.ok) return checked.result;
    return ok(withLastDim(input, args.units as number));
  },
  costs(input, output, args) {
    const features = lastDim(input) as number;
    const units = args.units as number;
    const rows = elementsPerExample(input) / features;
    const matmul = 2 * rows * features * units;
    const bias = args.bias === false ? 0 : units;
    const activation = String(args.activation ?? 'none');
    const activationFlops = ACTIVATION_FLOPS[activation] * rows * units;
    return {
      parameters: features * units + bias,
      forwardFlops: matmul + (bias > 0 ? rows * units : 0) + activationFlops,
      backwardInputFlops: matmul + activationFlops,
      backwardWeightFlops: matmul + (bias > 0 ? rows * units : 0),
      // Input for dW; the pre-activation output for the activation's derivative.
      activationBytes: bytesPerExample(input) + (activation === 'none' ? 0 : bytesPerExample(output)),
      outputBytes: bytesPerExample(output),
    };
  },
};

const embedding: LayerDefinition = {
  name: 'Embedding',
  summary: 'Looks up a learned vector per integer token: i32[batch, ...] → f32[batch, ..., dim]',
  arguments: [
    { name: 'vocab', type: 'int', min: 1, required: true, description: 'number of distinct tokens' },
    { name: 'dim', type: 'int', min: 1, required: true, description: 'vector size' },
  ],
  inferShape(input, args) {
    if (input.dtype !== 'i32') return fail('i32[batch, ...]', 'Embedding needs integer token ids (i32)');
    return ok({ dtype: 'f32', dims: [...input.dims, args.dim as number] });
  },
  costs(input, output, args) {
    const lookups = elementsPerExample(input);
    const dim = args.dim as number;
    return {
      parameters: (args.vocab as number) * dim,
      // A gather moves memory rather than computing; count one operation per element copied.
      forwardFlops: lookups * dim,
      backwardInputFlops: 0, // token ids have no gradient
      backwardWeightFlops: lookups * dim, // scatter-add into the table
      activationBytes: bytesPerExample(input),
      outputBytes: bytesPerExample(output),
    };
  },
};

const layerNorm: LayerDefinition = {
  name: 'LayerNorm',
  summary: 'Normalises the last dimension, with learned scale and shift',
  arguments: [
    { name: 'eps', type: 'float', min: 0, minExclusive: true, required: false, default: 1e-5, description: 'added to the variance' },
  ],
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
      // Input plus the per-row mean and reciprocal deviation.
      activationBytes: bytesPerExample(input) + 2 * rows * 4,
      outputBytes: bytesPerExample(output),
    };
  },
};

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

/** Costs of multi-head self-attention with Q, K, V and output projections. */
function attentionCosts(seq: number, model: number, heads: number): LayerCosts {
  const projections = 4 * 2 * seq * model * model; // Q, K, V, output
  const scores = 2 * 2 * seq * seq * model; // Q·Kᵀ and P·V over all heads
  const softmax = ACTIVATION_FLOPS.softmax * heads * seq * seq;
  return {
    parameters: 4 * model * model + 4 * model,
    forwardFlops: projections + scores + softmax,
    // Both operands of Q·Kᵀ and P·V are activations, so their whole backward is input-gradient work.
    backwardInputFlops: projections + 2 * scores + softmax,
    backwardWeightFlops: projections + 4 * seq * model,
    // Input, Q, K, V, attention probabilities per head, and the context before the output projection.
    activationBytes: 4 * (seq * model + 3 * seq * model + heads * seq * seq + seq * model),
    outputBytes: 4 * seq * model,
  };
}

const multiHeadAttention: LayerDefinition = {
  name: 'MultiHeadAttention',
  summary: 'Multi-head self-attention over [batch, seq, model] (optionally causal)',
  arguments: [
    { name: 'heads', type: 'int', min: 1, required: true, description: 'attention heads; must divide the model size' },
    { name: 'causal', type: 'bool', required: false, default: false, description: 'mask attention to later positions' },
  ],
  inferShape(input, args) {
    const checked = requireSequenceInput('MultiHeadAttention', input, args.heads as number);
    if (!checked.ok) return checked.result;
    return ok(input);
  },
  costs(input, _output, args) {
    const [, seq, model] = input.dims as [Dim, number, number];
    return attentionCosts(seq, model, args.heads as number);
  },
};

const transformerBlock: LayerDefinition = {
  name: 'TransformerBlock',
  summary: 'Pre-LN transformer block: x + attn(ln(x)), then + mlp(ln(x)) with a GELU MLP of width ff',
  arguments: [
    { name: 'heads', type: 'int', min: 1, required: true, description: 'attention heads; must divide the model size' },
    { name: 'ff', type: 'int', min: 1, required: true, description: 'hidden width of the MLP' },
    { name: 'causal', type: 'bool', required: false, default: false, description: 'mask attention to later positions' },
    { name: 'dropout', type: 'float', min: 0, max: 1, maxExclusive: true, required: false, default: 0, description: 'dropout rate after attention and MLP' },
  ],
  inferShape(input, args) {
    const checked = requireSequenceInput('TransformerBlock', input, args.heads as number);
    if (!checked.ok) return checked.result;
    return ok(input);
  },
  costs(input, _output, args) {
    const [, seq, model] = input.dims as [Dim, number, number];
    const ff = args.ff as number;
    const elements = seq * model;
    const attention = attentionCosts(seq, model, args.heads as number);
    const mlpMatmul = 2 * 2 * seq * model * ff; // up and down projections
    const gelu = ACTIVATION_FLOPS.gelu * seq * ff;
    const norms = 2 * 8 * elements;
    const residualAdds = 2 * elements;
    const dropoutMasks = (args.dropout as number) > 0 ? 2 * elements : 0; // one byte per element, twice
    return {
      parameters: 2 * (2 * model) + attention.parameters + (model * ff + ff + ff * model + model),
      forwardFlops: norms + attention.forwardFlops + mlpMatmul + gelu + residualAdds,
      backwardInputFlops: 2 * 10 * elements + attention.backwardInputFlops + mlpMatmul + gelu + residualAdds,
      backwardWeightFlops: 2 * 4 * elements + attention.backwardWeightFlops + mlpMatmul + seq * (ff + model),
      // Block input and the two LayerNorm inputs' statistics, attention's saved tensors,
      // the second norm's output, the MLP's pre- and post-GELU hidden, and dropout masks.
      activationBytes:
        4 * (elements + 4 * seq) + attention.activationBytes + 4 * (elements + 2 * seq * ff) + dropoutMasks,
      outputBytes: 4 * elements,
    };
  },
};

const dropout: LayerDefinition = {
  name: 'Dropout',
  summary: 'Zeroes a random fraction of the elements while training',
  arguments: [
    { name: 'rate', type: 'float', min: 0, max: 1, maxExclusive: true, required: true, description: 'fraction dropped, in [0, 1)' },
  ],
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
    };
  },
};

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

const conv2d: LayerDefinition = {
  name: 'Conv2D',
  summary: '2-D convolution over NHWC images with square kernels',
  arguments: [
    { name: 'filters', type: 'int', min: 1, required: true, description: 'output channels' },
    { name: 'kernel', type: 'int', min: 1, required: true, description: 'kernel height and width' },
    { name: 'stride', type: 'int', min: 1, required: false, default: 1, description: 'step between windows' },
    { name: 'padding', type: 'enum', values: ['same', 'valid'], required: false, default: 'valid', description: "'same' keeps the size (at stride 1), 'valid' uses only full windows" },
    { name: 'activation', type: 'enum', values: ACTIVATIONS, required: false, default: 'none', description: 'activation applied to the output' },
  ],
  inferShape(input, args) {
    const checked = requireImageInput('Conv2D', input);
    if (!checked.ok) return checked.result;
    const kernel = args.kernel as number;
    const stride = (args.stride as number | undefined) ?? 1;
    const padding = String(args.padding ?? 'valid');
    const height = windowOutput(checked.height, kernel, stride, padding);
    const width = windowOutput(checked.width, kernel, stride, padding);
    if (height < 1 || width < 1) {
      return fail('f32[batch, height, width, channels]', `Conv2D: a ${kernel}x${kernel} kernel does not fit a ${checked.height}x${checked.width} image with 'valid' padding`);
    }
    return ok({ dtype: input.dtype, dims: [input.dims[0], height, width, args.filters as number] });
  },
  costs(input, output, args) {
    const [, , , channels] = input.dims as [Dim, number, number, number];
    const [, height, width, filters] = output.dims as [Dim, number, number, number];
    const kernel = args.kernel as number;
    const macs = height * width * kernel * kernel * channels * filters;
    const activation = String(args.activation ?? 'none');
    const activationFlops = ACTIVATION_FLOPS[activation] * height * width * filters;
    return {
      parameters: kernel * kernel * channels * filters + filters,
      forwardFlops: 2 * macs + height * width * filters + activationFlops,
      backwardInputFlops: 2 * macs + activationFlops,
      backwardWeightFlops: 2 * macs + height * width * filters,
      activationBytes: bytesPerExample(input) + (activation === 'none' ? 0 : bytesPerExample(output)),
      outputBytes: bytesPerExample(output),
    };
  },
};

const maxPool: LayerDefinition = {
  name: 'MaxPool',
  summary: 'Max over square windows of NHWC images',
  arguments: [
    { name: 'size', type: 'int', min: 1, required: true, description: 'window height and width' },
    { name: 'stride', type: 'int', min: 1, required: false, description: 'step between windows (default: size)' },
  ],
  inferShape(input, args) {
    const checked = requireImageInput('MaxPool', input);
    if (!checked.ok) return checked.result;
    const size = args.size as number;
    const stride = (args.stride as number | undefined) ?? size;
    const height = windowOutput(checked.height, size, stride, 'valid');
    const width = windowOutput(checked.width, size, stride, 'valid');
    if (height < 1 || width < 1) {
      return fail('f32[batch, height, width, channels]', `MaxPool: a ${size}x${size} window does not fit a ${checked.height}x${checked.width} image`);
    }
    return ok({ dtype: input.dtype, dims: [input.dims[0], height, width, checked.channels] });
  },
  costs(input, output, args) {
    const size = args.size as number;
    const outputs = elementsPerExample(output);
    return {
      parameters: 0,
      forwardFlops: outputs * size * size,
      backwardInputFlops: outputs,
      backwardWeightFlops: 0,
      activationBytes: bytesPerExample(input), // to find each window's maximum again
      outputBytes: bytesPerExample(output),
    };
  },
};

const flatten: LayerDefinition = {
  name: 'Flatten',
  summary: 'Reshapes [batch, a, b, ...] to [batch, a·b·...]',
  arguments: [],
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
};

export const LAYER_CATALOG: ReadonlyMap<string, LayerDefinition> = new Map(
  [
    dense,
    embedding,
    layerNorm,
    multiHeadAttention,
    transformerBlock,
    elementwise('ReLU', 'max(x, 0) elementwise', ACTIVATION_FLOPS.relu, true),
    elementwise('GELU', 'Gaussian error linear unit elementwise', ACTIVATION_FLOPS.gelu, false),
    elementwise('Tanh', 'tanh elementwise', ACTIVATION_FLOPS.tanh, true),
    elementwise('Softmax', 'softmax over the last dimension', ACTIVATION_FLOPS.softmax, true),
    dropout,
    conv2d,
    maxPool,
    flatten,
  ].map((definition) => [definition.name, definition]),
);

export function lookupLayer(name: string): LayerDefinition | undefined {
  return LAYER_CATALOG.get(name);
}

/** The arguments with defaults filled in (schema order), for display and for the runtime. */
export function withDefaults(definition: LayerDefinition, args: LayerArguments): LayerArguments {
  const filled: Record<string, ArgumentValue> = {};
  for (const schema of definition.arguments) {
    const value = Object.hasOwn(args, schema.name) ? args[schema.name] : schema.default;
    if (value !== undefined) filled[schema.name] = value;
  }
  return filled;
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
  };
}
