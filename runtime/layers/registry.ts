// Builds runtime layers from the IR's model description (operator + args +
// shapes), the only place that knows the catalog's argument names.

import type { IrLayer } from '../../compiler/ir/types.ts';
import { parseActivation } from './activation.ts';
import { SequenceLayer, ResidualLayer } from './composite.ts';
import { Conv2DLayer } from './conv.ts';
import { DenseLayer } from './dense.ts';
import { DropoutLayer } from './dropout.ts';
import { EmbeddingLayer } from './embedding.ts';
import { ActivationLayer, FlattenLayer, attentionCoreLayer, maxPoolLayer, softmaxLayer } from './functional.ts';
import { LayerNormLayer } from './normalization.ts';
import { ExternLayer, isExternLayerDefinition, type ExternLayerDefinition } from '../extern.ts';
import type { RuntimeLayer } from './types.ts';

/** Extern layer implementations, loaded beforehand (module import is asynchronous). */
export type ExternRegistry = ReadonlyMap<string, ExternLayerDefinition>;

function numberArg(layer: IrLayer, names: readonly string[], fallback?: number): number {
  for (const name of names) {
    const value = layer.args[name];
    if (typeof value === 'number') return value;
  }
  if (fallback !== undefined) return fallback;
  throw new Error(`layer '${layer.name}' (${layer.operator}) lacks the argument '${names[0]}' the checker should have required`);
}

function boolArg(layer: IrLayer, name: string, fallback: boolean): boolean {
  const value = layer.args[name];
  return typeof value === 'boolean' ? value : value === undefined ? fallback : value === 'true';
}

const last = (shape: readonly number[]): number => shape[shape.length - 1];

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
      new LayerNormLayer(`${name}/ln1`, dim, 1e-5),
      multiHeadAttention(`${name}/attention`, dim, heads, causal),
      new DropoutLayer(`${name}/attention_dropout`, dropout),
    ]),
    new ResidualLayer(`${name}/ff_residual`, [
      new LayerNormLayer(`${name}/ln2`, dim, 1e-5),
      new DenseLayer(`${name}/ff1`, dim, ff, 'gelu', true),
      new DenseLayer(`${name}/ff2`, ff, dim, 'none', true),
      new DropoutLayer(`${name}/ff_dropout`, dropout),
    ]),
  ]);
}

export function buildLayer(layer: IrLayer, externs: ExternRegistry): RuntimeLayer {
  const inFeatures = last(layer.inputShape);
  switch (layer.operator) {
    case 'Dense':
      return new DenseLayer(layer.name, inFeatures, numberArg(layer, ['units']), parseActivation(layer.args.activation), boolArg(layer, 'bias', true));
    case 'Embedding': {
      const vocab = numberArg(layer, ['vocab']);
      const dim = numberArg(layer, ['dim']);
      // A learned position table is part of the layer when the compiler counted one.
      const positions = layer.inputShape.length === 1 && layer.parameters === vocab * dim + layer.inputShape[0] * dim ? layer.inputShape[0] : 0;
      return new EmbeddingLayer(layer.name, vocab, dim, positions);
    }
    case 'LayerNorm':
      return new LayerNormLayer(layer.name, inFeatures, numberArg(layer, ['eps', 'epsilon'], 1e-5));
    case 'MultiHeadAttention':
      return multiHeadAttention(layer.name, inFeatures, numberArg(layer, ['heads']), boolArg(layer, 'causal', false));
    case 'TransformerBlock':
      return transformerBlock(layer.name, inFeatures, numberArg(layer, ['heads']), numberArg(layer, ['ff'], 4 * inFeatures), boolArg(layer, 'causal', false), numberArg(layer, ['dropout'], 0));
    case 'ReLU': return new ActivationLayer(layer.name, 'relu');
    case 'GELU': return new ActivationLayer(layer.name, 'gelu');
    case 'Tanh': return new ActivationLayer(layer.name, 'tanh');
    case 'Softmax': return softmaxLayer(layer.name);
    case 'Dropout': return new DropoutLayer(layer.name, numberArg(layer, ['rate', 'p'], 0.5));
    case 'Conv2D': {
      const padding = String(layer.args.padding ?? 'valid');
      return new Conv2DLayer(layer.name, inFeatures, numberArg(layer, ['filters']), numberArg(layer, ['kernel', 'size']), numberArg(layer, ['stride'], 1),
        padding === 'valid' ? 'valid' : 'same', parseActivation(layer.args.activation));
    }
    case 'MaxPool': {
      const size = numberArg(layer, ['size', 'pool']);
      return maxPoolLayer(layer.name, size, numberArg(layer, ['stride'], size));
    }
    case 'Flatten': return new FlattenLayer(layer.name);
    case 'Residual': return new ResidualLayer(layer.name, layer.children.map((child) => buildLayer(child, externs)));
    default: {
      const definition = externs.get(layer.operator);
      if (!definition) throw new Error(`no implementation for layer operator '${layer.operator}' (layer '${layer.name}')`);
      return new ExternLayer(layer.name, definition, layer.args, layer.inputShape, layer.parametersDeclared ? layer.parameters : undefined);
    }
  }
}

/** Imports each extern layer module named by the model (implementation paths are absolute or relative to `baseDirectory`). */
export async function loadExternLayers(layers: readonly IrLayer[], resolve: (path: string) => string): Promise<Map<string, ExternLayerDefinition>> {
  const registry = new Map<string, ExternLayerDefinition>();
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
