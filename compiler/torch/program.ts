// `pipec export FILE --torch DIR`: the program as a runnable PyTorch
// program for torch.distributed.pipelining. This file writes its text
// files: model.py (one stage module per stage, built from the layers of
// compiler/torch/python/pipec_torch.py, which mirror the TF.js runtime's
// math and parameter layout), extern_layers.py (a stub per extern layer),
// program.json (what train.py reads: stage → rank map, shapes, batch,
// loss, optimizer, data), schedule.csv (the compute_comms CSV) and a
// README fragment. The tensors (initial weights, training examples) come
// from the runtime (runtime/torchExport.ts), which alone knows how pipec
// initialises and feeds them.

import { TRANSFORMER_BLOCK_ACTIVATION, TRANSFORMER_BLOCK_NORM_EPS, type BuiltinOperator, type OperatorArguments } from '../layers/catalog.ts';
import type { IrLayer, IrProgram } from '../ir/types.ts';
import type { ComputeSchedule } from '../schedule/types.ts';
import { exportTorchCsv } from './csv.ts';
import { pipecTorchPy, trainPy } from './pythonSources.ts';

/** An extern layer's parameters as its implementation creates them (local name and shape), by layer name. */
export type ExternParameterShapes = ReadonlyMap<string, readonly { readonly local: string; readonly shape: readonly number[] }[]>;

export interface TorchProgramOptions {
  /** `train.py`'s default step count: the pipeline's `steps`, else pipec train's default. */
  readonly steps: number;
  /** The .pipe file, as the README names it. */
  readonly sourceFile: string;
  readonly externParameters: ExternParameterShapes;
}

/** File name → text, for the export directory (the tensors are written beside them). */
export function torchProgramFiles(ir: IrProgram, schedule: ComputeSchedule, options: TorchProgramOptions): ReadonlyMap<string, string> {
  const files = new Map<string, string>([
    ['model.py', modelPy(ir, options.externParameters)],
    ['program.json', `${JSON.stringify(programJson(ir, options.steps), null, 2)}\n`],
    ['schedule.csv', exportTorchCsv(schedule, { comms: true })],
    ['README.md', torchReadme(ir, options)],
    ['train.py', trainPy],
    ['pipec_torch.py', pipecTorchPy],
  ]);
  const externs = externOperators(ir.model.layers);
  if (externs.size > 0) files.set('extern_layers.py', externLayersPy(externs));
  return files;
}

// ───────────────────────────── program.json ─────────────────────────────

function programJson(ir: IrProgram, steps: number) {
  return {
    pipeline: ir.pipeline,
    schedule: ir.schedule,
    steps,
    ranks: ir.ranks,
    replicas: ir.replicas,
    microbatches: ir.microbatches,
    microbatchSize: ir.microbatchSize,
    seed: ir.seed,
    loss: ir.model.loss,
    optimizer: ir.optimizer,
    data: ir.data ?? null,
    input: { shape: ir.model.input.shape, dtype: ir.model.input.dtype },
    target: { shape: ir.model.target.shape, dtype: ir.model.target.dtype },
    stages: ir.stages.map((stage) => {
      const first = ir.model.layers[stage.layers[0]];
      const last = ir.model.layers[stage.layers[stage.layers.length - 1]];
      return {
        index: stage.index, name: stage.name, rank: stage.rank, recompute: stage.recompute,
        layers: stage.layers.map((index) => ir.model.layers[index].name),
        inputShape: first.inputShape, inputDtype: first.inputDtype,
        outputShape: last.outputShape, outputDtype: last.outputDtype,
      };
    }),
  };
}

// ───────────────────────────── model.py ─────────────────────────────

/** A Python literal for an argument value. */
function py(value: number | string | boolean | readonly number[]): string {
  if (Array.isArray(value)) return `[${value.map((item) => py(item)).join(', ')}]`;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'string') return JSON.stringify(value);
  // JavaScript's shortest round-trip spelling (256, 0.25, 0.00001, 1e-7) is Python's too.
  return String(value);
}

const features = (layer: IrLayer): number => layer.inputShape[layer.inputShape.length - 1];

type LayerConstructor<K extends BuiltinOperator> = (args: OperatorArguments<K>, layer: IrLayer, indent: string, externs: ExternParameterShapes) => string;

/**
 * The pipec_torch.py constructor of each operator the compiler emits, typed
 * against the catalog like the runtime's LAYER_BUILDERS: a new kind does not
 * compile until it has a PyTorch counterpart here.
 */
const LAYER_CONSTRUCTORS: { readonly [K in BuiltinOperator]: LayerConstructor<K> } = {
  Dense: ({ units, activation, bias }, layer) => `Dense(${py(layer.name)}, ${features(layer)}, ${units}, activation=${py(activation)}, bias=${py(bias)})`,
  Embedding: ({ vocab, dim }, layer) => `Embedding(${py(layer.name)}, ${vocab}, ${dim})`,
  LayerNorm: ({ eps }, layer) => `LayerNorm(${py(layer.name)}, ${features(layer)}, eps=${py(eps)})`,
  MultiHeadAttention: ({ heads, causal }, layer) => `MultiHeadAttention(${py(layer.name)}, ${features(layer)}, heads=${heads}, causal=${py(causal)})`,
  TransformerBlock: ({ heads, ff, causal, dropout }, layer) =>
    `TransformerBlock(${py(layer.name)}, ${features(layer)}, heads=${heads}, ff=${ff}, causal=${py(causal)}, dropout=${py(dropout)}, `
    + `norm_eps=${py(TRANSFORMER_BLOCK_NORM_EPS)}, activation=${py(TRANSFORMER_BLOCK_ACTIVATION)})`,
  ReLU: (_args, layer) => `Activation(${py(layer.name)}, "relu")`,
  GELU: (_args, layer) => `Activation(${py(layer.name)}, "gelu")`,
  Tanh: (_args, layer) => `Activation(${py(layer.name)}, "tanh")`,
  Softmax: (_args, layer) => `Softmax(${py(layer.name)})`,
  Dropout: ({ rate }, layer) => `Dropout(${py(layer.name)}, ${py(rate)})`,
  Conv2D: ({ filters, kernel, stride, padding, activation }, layer) =>
    `Conv2D(${py(layer.name)}, ${features(layer)}, ${filters}, ${kernel}, stride=${stride}, padding=${py(padding)}, activation=${py(activation)})`,
  MaxPool: ({ size, stride }, layer) => `MaxPool(${py(layer.name)}, ${size}, ${stride})`,
  Flatten: (_args, layer) => `Flatten(${py(layer.name)})`,
  // Skips inside one stage only: torchExportRefusal refuses programs whose skips cross stages.
  Add: ({ skip }, layer) => `Add(${py(layer.name)}, skip=${py(skip)})`,
  Concat: ({ skip, axis }, layer) => `Concat(${py(layer.name)}, skip=${py(skip)}, axis=${axis})`,
  Residual: (_args, layer, indent, externs) =>
    `Residual(${py(layer.name)}, [\n${layer.children.map((child) => `${indent}    ${layerConstructor(child, `${indent}    `, externs)},\n`).join('')}${indent}])`,
};

function isBuiltin(operator: string): operator is BuiltinOperator {
  return Object.hasOwn(LAYER_CONSTRUCTORS, operator);
}

function layerConstructor(layer: IrLayer, indent: string, externs: ExternParameterShapes): string {
  if (isBuiltin(layer.operator)) {
    const construct = LAYER_CONSTRUCTORS[layer.operator] as LayerConstructor<BuiltinOperator>;
    return construct(layer.args as unknown as OperatorArguments<BuiltinOperator>, layer, indent, externs);
  }
  const parameters = (externs.get(layer.name) ?? []).map((p) => `${py(p.local)}: ${py(p.shape)}`).join(', ');
  const args = Object.entries(layer.args).map(([name, value]) => `, ${name}=${py(value)}`).join('');
  return `extern_layers.${layer.operator}(${py(layer.name)}, input_shape=${py(layer.inputShape)}, parameters={${parameters}}${args})`;
}

function modelPy(ir: IrProgram, externs: ExternParameterShapes): string {
  const hasExterns = externOperators(ir.model.layers).size > 0;
  const classes = ir.stages.map((stage) => {
    const layers = stage.layers.map((index) => ir.model.layers[index]);
    return [
      `class Stage${stage.index}(PipecStage):`,
      `    """Stage ${stage.name} on rank ${stage.rank}: ${layers.map((layer) => layer.name).join(', ')}${stage.recompute ? ' (recomputed in the backward)' : ''}."""`,
      '',
      '    def __init__(self):',
      `        super().__init__(${py(stage.name)}, recompute=${py(stage.recompute)}, seed=${ir.seed}, layers=[`,
      ...layers.map((layer) => `            ${layerConstructor(layer, '            ', externs)},`),
      '        ])',
    ].join('\n');
  });
  return [
    `"""The stages of pipec's pipeline '${ir.pipeline}' (model ${ir.model.name}), written by pipec export --torch."""`,
    'from pipec_torch import *  # noqa: F401,F403 (the layer classes)',
    ...(hasExterns ? ['import extern_layers'] : []),
    '',
    '',
    classes.join('\n\n\n'),
    '',
    '',
    '# Global stage index → its module class.',
    `STAGES = [${ir.stages.map((stage) => `Stage${stage.index}`).join(', ')}]`,
    '',
  ].join('\n');
}

// ───────────────────────────── extern_layers.py ─────────────────────────────

function externOperators(layers: readonly IrLayer[], into = new Map<string, IrLayer>()): Map<string, IrLayer> {
  for (const layer of layers) {
    if (!isBuiltin(layer.operator) && !into.has(layer.operator)) into.set(layer.operator, layer);
    externOperators(layer.children, into);
  }
  return into;
}

function externLayersPy(externs: ReadonlyMap<string, IrLayer>): string {
  const classes = [...externs.values()].map((layer) => [
    `class ${layer.operator}(PipecLayer):`,
    `    """Extern layer ${layer.operator}, implemented for pipec in ${layer.implementation ?? 'TypeScript'}.`,
    '    Its parameters are created here under pipec\'s names, so weights.safetensors',
    '    loads; write its forward (`run`) in PyTorch to train the program."""',
    '',
    '    def __init__(self, name, input_shape, parameters, **args):',
    '        super().__init__(name)',
    '        self.input_shape, self.args = input_shape, args',
    '        for local, shape in parameters.items():',
    '            self.add_parameter(local, local, tuple(shape))',
    '',
    '    def run(self, x, context):',
    '        raise NotImplementedError(',
    `            f"extern layer '{self.pipec_name}' (${layer.operator}, ${layer.implementation ?? 'TypeScript'}) has no PyTorch forward: "`,
    `            f"write {type(self).__name__}.run in {__file__}")`,
  ].join('\n'));
  return [
    '"""Extern layers of the program: fill in each `run` with the layer\'s PyTorch forward."""',
    'from pipec_torch import PipecLayer',
    '',
    '',
    classes.join('\n\n\n'),
    '',
  ].join('\n');
}

// ───────────────────────────── README fragment ─────────────────────────────

/** Processes train.py runs in: one per pipeline rank of each data-parallel replica. */
export function torchProcesses(ir: IrProgram): number {
  return ir.ranks * ir.replicas;
}

function torchReadme(ir: IrProgram, options: TorchProgramOptions): string {
  const processes = torchProcesses(ir);
  // Two hosts when the processes split evenly, else one a host.
  const hosts = processes % 2 === 0 ? 2 : processes;
  const perHost = processes / hosts;
  return [
    `# ${ir.pipeline} on PyTorch`,
    '',
    `Written by \`pipec export ${options.sourceFile} --torch DIR\`: the pipeline as a`,
    'torch.distributed.pipelining program. Stage modules in `model.py`, pipec\'s',
    'initial weights in `weights.safetensors`, its training examples in',
    `\`data.safetensors\` (fed in pipec's order), the ${ir.schedule} schedule in`,
    '`schedule.csv` (PyTorch\'s compute_comms format, run by',
    '`_PipelineScheduleRuntime`), and what `train.py` reads in `program.json`.',
    '',
    `${ir.ranks} pipeline rank${ir.ranks === 1 ? '' : 's'}${ir.replicas > 1 ? ` × ${ir.replicas} data-parallel replicas (process r·${ir.ranks} + d is rank d of replica r)` : ''}, `
      + `${ir.stages.length} stages, batch ${ir.microbatchSize * ir.microbatches * ir.replicas} as ${ir.microbatches} microbatches of ${ir.microbatchSize}${ir.replicas > 1 ? ' per replica' : ''}.`,
    '',
    '## One host',
    '',
    '```sh',
    `torchrun --nproc-per-node ${processes} train.py --steps ${options.steps}`,
    '```',
    '',
    `## ${hosts === 2 ? 'Two hosts' : 'Several hosts'}`,
    '',
    `Start the same command on every host, with its own \`--node-rank\` (0 on the host named by \`--master-addr\`):`,
    '',
    '```sh',
    `torchrun --nnodes ${hosts} --nproc-per-node ${perHost} --node-rank K --master-addr HOST0 --master-port 29500 train.py --steps ${options.steps}`,
    '```',
    '',
    'With several network interfaces, name the one the hosts share:',
    '`GLOO_SOCKET_IFNAME=eth0` (CPU) or `NCCL_SOCKET_IFNAME=eth0` (GPU).',
    '',
    '## What it prints',
    '',
    'Rank 0 prints one JSON line per step, `{"step": 0, "loss": 2.31}`, step 0',
    'first: `losses[step]` of `pipec train --json` for the same program.',
    '`--dump-grads FILE` writes the first step\'s gradients (safetensors, pipec\'s',
    `parameter names); \`pipec verify ${options.sourceFile} --dump-grads FILE\` writes pipec's.`,
    'It runs on gloo and the CPU, or on NCCL and the GPUs when',
    '`torch.cuda.is_available()`.',
    '',
  ].join('\n');
}
