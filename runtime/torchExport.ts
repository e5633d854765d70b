// The tensors of `pipec export --torch`: every stage's initial parameters,
// exactly as this runtime initialises them (the layers' ParameterSpecs and
// initialValues, keyed by (seed, name)), and the data source's training
// examples in index order, which the exported program shuffles and
// augments as BatchFeed does (compiler/torch/python/pipec_torch.py). The
// core writes the program's text (compiler/torch/program.ts).

import type { IrProgram } from '../compiler/ir/types.ts';
import { createDataset, dataShapes } from './data/index.ts';
import { SequenceLayer } from './layers/composite.ts';
import { buildLayer, buildSequenceChild, type ExternRegistry } from './layers/registry.ts';
import type { ParameterSpec } from './layers/types.ts';
import { initialValues } from './parameters.ts';

export interface ExportedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

export interface TorchExportTensors {
  /** Initial parameters under pipec's names, stage by stage. */
  readonly weights: readonly ExportedTensor[];
  /** `train/input` and `train/target`: every training example, in index order. */
  readonly data: readonly ExportedTensor[];
  /** Extern layers' parameters (local name, shape) by layer name, for their PyTorch stubs. */
  readonly externParameters: ReadonlyMap<string, readonly { readonly local: string; readonly shape: readonly number[] }[]>;
}

export function torchExportTensors(ir: IrProgram, externs: ExternRegistry, baseDirectory: string): TorchExportTensors {
  const specs: ParameterSpec[] = [];
  const externParameters = new Map<string, { local: string; shape: readonly number[] }[]>();
  const noteExterns = (layers: IrProgram['model']['layers']): void => {
    for (const layer of layers) {
      if (layer.implementation) {
        const built = buildLayer(layer, externs);
        externParameters.set(layer.name, built.parameters.map((spec) => ({ local: spec.name.slice(layer.name.length + 1), shape: spec.shape })));
      }
      noteExterns(layer.children);
    }
  };
  for (const stage of ir.stages) {
    const layers = stage.layers.map((index) => ir.model.layers[index]);
    specs.push(...new SequenceLayer(stage.name, layers.map((layer) => buildSequenceChild(layer, externs))).parameters);
    noteExterns(layers);
  }
  const weights = specs.map((spec) => ({ name: spec.name, shape: spec.shape, data: initialValues(spec, ir.seed) }));

  const dataset = createDataset(ir.data, dataShapes(ir), baseDirectory);
  const all = dataset.trainExamples(Int32Array.from({ length: dataset.trainSize }, (_, i) => i));
  const data = [
    { name: 'train/input', shape: [dataset.trainSize, ...ir.model.input.shape], data: all.input },
    { name: 'train/target', shape: [dataset.trainSize, ...ir.model.target.shape], data: all.target },
  ];
  return { weights, data, externParameters };
}
