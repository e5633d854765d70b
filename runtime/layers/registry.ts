// Builds runtime layers from the IR's model description. One builder per
// operator the compiler emits, typed against the catalog's argument records
// (compiler/layers/catalog.ts, through the IR contract): a kind without a
// builder, a builder for no kind, or an argument read under a name the
// catalog does not define is a type error. The checker fills in every
// default, so no builder falls back on a default of its own.

import type { BuiltinOperator, IrLayer, MergeKind, OperatorArguments, TransformerBlockConstants } from '../../compiler/ir/types.ts';
import { AddLayer, ConcatLayer, SequenceLayer, ResidualLayer } from './composite.ts';
import { Conv2DLayer } from './conv.ts';
import { FrozenLayer } from './frozen.ts';
import { DenseLayer } from './dense.ts';
import { DropoutLayer } from './dropout.ts';
import { EmbeddingLayer } from './embedding.ts';
import { ActivationLayer, FlattenLayer, attentionCoreLayer, maxPoolLayer, softmaxLayer } from './functional.ts';
import { LayerNormLayer } from './normalization.ts';
import { ExternLayer, isExternLayerDefinition, type ExternLayerDefinition } from '../extern.ts';
import { resolveOwnPackageToSources } from '../ownPackage.ts';
import { isMergeLayer, type RuntimeLayer, type RuntimeMergeLayer, type SequenceChild } from './types.ts';

/** Extern layer implementations, loaded beforehand (module import is asynchronous). */
export type ExternRegistry = ReadonlyMap<string, ExternLayerDefinition>;

/** What a builder knows of its layer besides the arguments. */
export interface LayerSite {
  readonly name: string;
  /** Per-example input and output shapes (without the batch dimension). */
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  /** The layers of a residual body, built. */
  buildChildren(): SequenceChild[];
}

/** A merge kind builds a merge layer (its second input wired by the sequence holding it); every other operator a layer. */
export type LayerBuilder<K extends BuiltinOperator> = (args: OperatorArguments<K>, site: LayerSite) => K extends MergeKind ? RuntimeMergeLayer : RuntimeLayer;

const features = (site: LayerSite): number => site.inputShape[site.inputShape.length - 1];

/** The catalog's constants inside TransformerBlock, spelt here again but typed to equal the catalog's. */
const TRANSFORMER_BLOCK: TransformerBlockConstants = { normEps: 1e-5, activation: 'gelu' };

export const LAYER_BUILDERS: { readonly [K in BuiltinOperator]: LayerBuilder<K> } = {
  Dense: ({ units, activation, bias }, site) => new DenseLayer(site.name, features(site), units, activation, bias),
  Embedding: ({ vocab, dim }, site) => new EmbeddingLayer(site.name, vocab, dim),
  LayerNorm: ({ eps }, site) => new LayerNormLayer(site.name, features(site), eps),
  MultiHeadAttention: ({ heads, causal }, site) => multiHeadAttention(site.name, features(site), heads, causal),
  TransformerBlock: ({ heads, ff, causal, dropout }, site) => transformerBlock(site.name, features(site), heads, ff, causal, dropout),
  ReLU: (_args, site) => new ActivationLayer(site.name, 'relu'),
  GELU: (_args, site) => new ActivationLayer(site.name, 'gelu'),
  Tanh: (_args, site) => new ActivationLayer(site.name, 'tanh'),
  Softmax: (_args, site) => softmaxLayer(site.name),
  Dropout: ({ rate }, site) => new DropoutLayer(site.name, rate),
  Conv2D: ({ filters, kernel, stride, padding, activation }, site) => new Conv2DLayer(site.name, features(site), filters, kernel, stride, padding, activation),
  MaxPool: ({ size, stride }, site) => maxPoolLayer(site.name, size, stride),
  Flatten: (_args, site) => new FlattenLayer(site.name),
  Add: ({ skip }, site) => new AddLayer(site.name, skip),
  // The skip's size on the joined axis is what the output adds to the input.
  Concat: ({ skip, axis }, site) => {
    const dimension = (axis < 0 ? site.inputShape.length + 1 + axis : axis) - 1;
    const skipShape = site.inputShape.map((size, i) => (i === dimension ? site.outputShape[i] - size : size));
    return new ConcatLayer(site.name, skip, axis, site.inputShape, skipShape);
  },
  Residual: (_args, site) => new ResidualLayer(site.name, site.buildChildren()),
};

export function multiHeadAttention(name: string, dim: number, heads: number, causal: boolean): SequenceLayer {
  if (dim % heads !== 0) throw new Error(`attention '${name}': dim ${dim} is not divisible by ${heads} heads`);
  return new SequenceLayer(name, [
    new DenseLayer(`${name}/qkv`, dim, 3 * dim, 'none', true),
    attentionCoreLayer(`${name}/core`, heads, causal),
    new DenseLayer(`${name}/out`, dim, dim, 'none', true),
  ]);
}

/** Pre-LN block: x + drop(MHA(LN(x))), then x + drop(FF(LN(x))). */
export function transformerBlock(name: string, dim: number, heads: number, ff: number, causal: boolean, dropout: number): SequenceLayer {
  return new SequenceLayer(name, [
    new ResidualLayer(`${name}/attention_residual`, [
      new LayerNormLayer(`${name}/ln1`, dim, TRANSFORMER_BLOCK.normEps),
      multiHeadAttention(`${name}/attention`, dim, heads, causal),
      new DropoutLayer(`${name}/attention_dropout`, dropout),
    ]),
    new ResidualLayer(`${name}/ff_residual`, [
      new LayerNormLayer(`${name}/ln2`, dim, TRANSFORMER_BLOCK.normEps),
      new DenseLayer(`${name}/ff1`, dim, ff, TRANSFORMER_BLOCK.activation, true),
      new DenseLayer(`${name}/ff2`, ff, dim, 'none', true),
      new DropoutLayer(`${name}/ff_dropout`, dropout),
    ]),
  ]);
}

export function isBuiltinOperator(operator: string): operator is BuiltinOperator {
  return Object.hasOwn(LAYER_BUILDERS, operator);
}

function buildBuiltin<K extends BuiltinOperator>(operator: K, layer: IrLayer, externs: ExternRegistry): SequenceChild {
  const builder: LayerBuilder<K> = LAYER_BUILDERS[operator];
  const site: LayerSite = {
    name: layer.name,
    inputShape: layer.inputShape,
    outputShape: layer.outputShape,
    buildChildren: () => layer.children.map((child) => buildSequenceChild(child, externs)),
  };
  // The IR contract (compiler/ir/types.ts): a built-in layer's args hold every argument of its kind.
  return builder(requireEveryArgument(layer) as unknown as OperatorArguments<K>, site);
}

/** The layer's args, refusing to read one the IR lacks rather than handing a builder `undefined`. */
function requireEveryArgument(layer: IrLayer): IrLayer['args'] {
  return new Proxy(layer.args, {
    get(args, key) {
      if (typeof key === 'string' && !Object.hasOwn(args, key)) {
        throw new Error(`layer '${layer.name}' (${layer.operator}): the IR lacks its argument '${key}'; the checker writes every argument, so compile the program again`);
      }
      return Reflect.get(args, key);
    },
  });
}

/** A layer that runs on its own input alone; a merge layer needs the sequence it sits in (buildSequenceChild). */
export function buildLayer(layer: IrLayer, externs: ExternRegistry): RuntimeLayer {
  const built = buildSequenceChild(layer, externs);
  if (isMergeLayer(built)) throw new Error(`layer '${layer.name}' (${layer.operator}) merges the skip of '${built.skip}', so it runs only inside the sequence that holds both`);
  return built;
}

/** A layer of a sequence (a stage, a residual body): a merge layer is wired by the sequence (and has nothing to freeze). */
export function buildSequenceChild(layer: IrLayer, externs: ExternRegistry): SequenceChild {
  const built = buildTrainedLayer(layer, externs);
  return layer.frozen === true && !isMergeLayer(built) ? new FrozenLayer(built) : built;
}

function buildTrainedLayer(layer: IrLayer, externs: ExternRegistry): SequenceChild {
  if (isBuiltinOperator(layer.operator)) return buildBuiltin(layer.operator, layer, externs);
  const definition = externs.get(layer.operator);
  if (!definition) throw new Error(`no implementation for layer operator '${layer.operator}' (layer '${layer.name}')`);
  return new ExternLayer(layer.name, definition, layer.args, layer.inputShape, layer.parametersDeclared ? layer.parameters : undefined);
}

/** Imports each extern layer module named by the model (implementation paths are absolute or relative to `baseDirectory`). */
export async function loadExternLayers(layers: readonly IrLayer[], resolve: (path: string) => string): Promise<Map<string, ExternLayerDefinition>> {
  const registry = new Map<string, ExternLayerDefinition>();
  resolveOwnPackageToSources();
  const visit = async (layer: IrLayer): Promise<void> => {
    if (layer.implementation && !registry.has(layer.operator)) {
      const module = await import(resolve(layer.implementation)) as { default?: unknown };
      if (!isExternLayerDefinition(module.default)) {
        throw new Error(`'${layer.implementation}' must export default defineLayer({...}) for extern layer '${layer.operator}'`);
      }
      registry.set(layer.operator, module.default);
    }
    for (const child of layer.children) await visit(child);
  };
  for (const layer of layers) await visit(layer);
  return registry;
}
