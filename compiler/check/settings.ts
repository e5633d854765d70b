// Pipeline settings: `model`, `cluster`, `batch`, `microbatches`, `replicas`,
// `remainder`, `optimizer`, `data`, `seed`, `steps`, `precision`,
// `vocab_parallel` (the layer it names is checked in vocabParallel.ts). Known keys with
// did-you-mean, no duplicates, values of the right kind; optimizers and data
// sources are calls checked against their own argument schemas.

import type { Argument, Expression, PipelineDeclaration, PipelineSetting } from '../../grammar/ast.ts';
import type { Span } from '../../grammar/source.ts';
import type { ArgumentSchema } from '../layers/catalog.ts';
import { elementsPerExample, formatShape } from '../layers/catalog.ts';
import type { CheckedData, CheckedModel, CheckedOptimizer, Precision, TensorShape } from '../program.ts';
import { checkArguments } from './arguments.ts';
import type { Reporter } from './context.ts';
import { EMPTY_SCOPE } from './evaluate.ts';
import type { DiagnosticExtras } from '../../grammar/diagnostic.ts';
import { suggestName } from './suggest.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import { MAX_BATCH, MAX_DEVICES, MAX_MICROBATCHES } from '../limits.ts';

type SettingKind = 'name' | 'positive' | 'natural' | 'remainder' | 'call' | 'precision';

const SETTINGS: Readonly<Record<string, SettingKind>> = {
  model: 'name',
  cluster: 'name',
  batch: 'positive',
  microbatches: 'positive',
  replicas: 'natural',
  remainder: 'remainder',
  optimizer: 'call',
  data: 'call',
  seed: 'natural',
  steps: 'positive',
  precision: 'precision',
  vocab_parallel: 'name',
};

const PRECISIONS: readonly Precision[] = ['fp32', 'bf16', 'fp16'];

/** Bytes per parameter of the parameters, their gradients and the optimizer state (fp32 master weights included), per precision. */
export function bytesPerParameter(precision: Precision, optimizerStateFactor: number): { readonly parameter: number; readonly gradient: number; readonly optimizerState: number } {
  if (precision === 'fp32') return { parameter: 4, gradient: 4, optimizerState: 4 * optimizerStateFactor };
  // Mixed precision: the optimizer updates an fp32 master copy and keeps its state in fp32.
  return { parameter: 2, gradient: 2, optimizerState: 4 + 4 * optimizerStateFactor };
}

/** The factor on float activation bytes: the catalog counts f32; mixed precision keeps activations in 2 bytes. */
export function activationScale(precision: Precision): number {
  return precision === 'fp32' ? 1 : 0.5;
}

const OPTIMIZERS: Readonly<Record<'sgd' | 'momentum' | 'adam', { schema: readonly ArgumentSchema[]; stateFactor: number }>> = {
  sgd: {
    schema: [
      { name: 'lr', type: 'float', min: 0, minExclusive: true, required: true, description: 'learning rate' },
      { name: 'decay_steps', type: 'int', min: 1, required: false, description: 'cosine learning-rate decay to 0 over this many steps (none when absent)' },
    ],
    stateFactor: 0,
  },
  momentum: {
    schema: [
      { name: 'lr', type: 'float', min: 0, minExclusive: true, required: true, description: 'learning rate' },
      { name: 'momentum', type: 'float', min: 0, max: 1, maxExclusive: true, required: false, default: 0.9, description: 'velocity decay' },
      { name: 'decay_steps', type: 'int', min: 1, required: false, description: 'cosine learning-rate decay to 0 over this many steps (none when absent)' },
    ],
    stateFactor: 1,
  },
  adam: {
    schema: [
      { name: 'lr', type: 'float', min: 0, minExclusive: true, required: true, description: 'learning rate' },
      { name: 'beta1', type: 'float', min: 0, max: 1, maxExclusive: true, required: false, default: 0.9, description: 'first-moment decay' },
      { name: 'beta2', type: 'float', min: 0, max: 1, maxExclusive: true, required: false, default: 0.999, description: 'second-moment decay' },
      { name: 'eps', type: 'float', min: 0, minExclusive: true, required: false, default: 1e-8, description: 'added to the denominator' },
      { name: 'decay_steps', type: 'int', min: 1, required: false, description: 'cosine learning-rate decay to 0 over this many steps (none when absent)' },
    ],
    stateFactor: 2,
  },
};

const DATA_SOURCES: Readonly<Record<string, readonly ArgumentSchema[]>> = {
  mnist: [
    { name: 'holdout', type: 'int', min: 0, max: 9999, required: false, default: 1000, description: 'digits held out as the test set' },
    { name: 'seed', type: 'int', min: 0, required: false, default: 0, description: 'seed of the shuffle and the split' },
    { name: 'shift', type: 'int', min: 0, max: 4, required: false, default: 0, description: 'training digits are shifted by up to this many pixels (seeded augmentation)' },
  ],
  synthetic: [
    { name: 'examples', type: 'int', min: 1, required: false, default: 1024, description: 'examples generated' },
    { name: 'holdout', type: 'int', min: 0, required: false, description: 'examples held out as the test set (default: an eighth)' },
    { name: 'seed', type: 'int', min: 0, required: false, default: 0, description: 'seed of the generator' },
  ],
  chars: [
    { name: 'path', type: 'string', required: true, description: 'folder of text (.md) files, relative to the working directory' },
    { name: 'seq', type: 'int', min: 1, required: true, description: 'characters per example' },
    { name: 'holdout_fraction', type: 'float', min: 0, max: 1, minExclusive: true, maxExclusive: true, required: false, description: 'share of the windows held out as the test set (default 0.05)' },
    { name: 'seed', type: 'int', min: 0, required: false, default: 0, description: 'seed of the shuffle' },
  ],
};

/** What a pipeline may set, for editors' completion: the setting keys, and the optimizers and data sources with their arguments. */
export function pipelineSettingsCatalog(): {
  readonly settings: readonly string[];
  readonly optimizers: Readonly<Record<string, readonly ArgumentSchema[]>>;
  readonly dataSources: Readonly<Record<string, readonly ArgumentSchema[]>>;
  readonly remainders: readonly string[];
} {
  const optimizers = Object.fromEntries(Object.entries(OPTIMIZERS).map(([name, { schema }]) => [name, schema]));
  return { settings: Object.keys(SETTINGS), optimizers, dataSources: DATA_SOURCES, remainders: ['drop', 'pad'] };
}

export interface PipelineSettings {
  readonly model?: { readonly name: string; readonly span: Span };
  readonly cluster?: { readonly name: string; readonly span: Span };
  readonly batch?: number;
  readonly microbatches?: number;
  readonly replicas: number;
  readonly remainder: 'error' | 'drop' | 'pad';
  readonly optimizer?: CheckedOptimizer;
  readonly data?: CheckedData;
  readonly seed: number;
  readonly steps?: number;
  readonly precision: Precision;
  /** `vocab_parallel LAYER`: the output layer to split over every device (compiler/check/vocabParallel.ts). */
  readonly vocabParallel?: { readonly name: string; readonly span: Span };
  /** Where each setting was written (for diagnostics about their values). */
  readonly spans: ReadonlyMap<string, Span>;
  /** Settings suggested for misspelt keys: not reported again as missing. */
  readonly suggested: ReadonlySet<string>;
}

export function checkSettings(pipeline: PipelineDeclaration, reporter: Reporter): PipelineSettings {
  const first = new Map<string, PipelineSetting>();
  const values: Record<string, unknown> = {};
  const spans = new Map<string, Span>();
  const suggested = new Set<string>();
  for (const member of pipeline.members) {
    if (member.kind !== 'PipelineSetting' || member.key.name === '') continue;
    const key = member.key.name;
    const kind = Object.hasOwn(SETTINGS, key) ? SETTINGS[key] : undefined;
    if (kind === undefined) {
      const candidates = [...Object.keys(SETTINGS), 'stages', 'schedule', 'recompute', 'offload'];
      const suggestion = suggestName(key, candidates, member.key.span, { listUpTo: 0, otherwise: `settings: ${Object.keys(SETTINGS).join(', ')}` });
      if (suggestion.suggestion !== undefined) suggested.add(suggestion.suggestion.replacement);
      reporter.report(diagnosticMessages.unknownSetting, member.key.span, { name: key }, suggestion);
      continue;
    }
    const previous = first.get(key);
    if (previous !== undefined) {
      reporter.report(diagnosticMessages.duplicateSetting, member.key.span, { name: key }, {
        related: [{ span: previous.span, message: 'first given here' }],
      });
      continue;
    }
    first.set(key, member);
    spans.set(key, member.value.span);
    const value = readSetting(key, kind, member.value, reporter);
    if (value !== undefined) values[key] = value;
  }
  return {
    model: values.model as PipelineSettings['model'],
    cluster: values.cluster as PipelineSettings['cluster'],
    batch: values.batch as number | undefined,
    microbatches: values.microbatches as number | undefined,
    replicas: (values.replicas as number | undefined) ?? 1,
    remainder: (values.remainder as 'drop' | 'pad' | undefined) ?? 'error',
    optimizer: values.optimizer as CheckedOptimizer | undefined,
    data: values.data as CheckedData | undefined,
    seed: (values.seed as number | undefined) ?? 0,
    steps: values.steps as number | undefined,
    precision: (values.precision as Precision | undefined) ?? 'fp32',
    ...(values.vocab_parallel === undefined ? {} : { vocabParallel: values.vocab_parallel as { name: string; span: Span } }),
    spans,
    suggested,
  };
}

/** Past these the schedule, the checks and the simulator would do work far beyond any trainable pipeline. */
const SETTING_LIMITS: Readonly<Record<string, number>> = { batch: MAX_BATCH, microbatches: MAX_MICROBATCHES, replicas: MAX_DEVICES };

function readSetting(key: string, kind: SettingKind, value: Expression, reporter: Reporter): unknown {
  const wrong = (expected: string, extras?: DiagnosticExtras) => {
    reporter.report(diagnosticMessages.settingType, value.span, { name: key, expected }, extras);
    return undefined;
  };
  if (value.kind === 'NameExpression' && value.name.name === '') return undefined; // recovered
  switch (kind) {
    case 'name':
      if (value.kind !== 'NameExpression') return wrong(key === 'vocab_parallel' ? 'the name of a layer' : `the name of a ${key}`);
      return { name: value.name.name, span: value.span };
    case 'positive':
    case 'natural': {
      const number = value.kind === 'NumberLiteral' ? value.value : undefined;
      const min = kind === 'positive' ? 1 : key === 'replicas' ? 1 : 0;
      if (number === undefined || !Number.isInteger(number) || number < min) {
        return wrong(min === 1 ? 'a positive integer' : 'a non-negative integer');
      }
      const limit = SETTING_LIMITS[key];
      if (limit !== undefined && number > limit) {
        reporter.report(diagnosticMessages.settingTooLarge, value.span, { name: key, value: number, limit });
        return undefined;
      }
      return number;
    }
    case 'remainder':
      if (value.kind !== 'NameExpression' || !['drop', 'pad'].includes(value.name.name)) {
        return wrong("'drop' or 'pad'", value.kind === 'NameExpression' ? suggestName(value.name.name, ['drop', 'pad'], value.name.span) : undefined);
      }
      return value.name.name;
    case 'call':
      return key === 'optimizer' ? readOptimizer(value, reporter) : readData(value, reporter);
    case 'precision':
      if (value.kind !== 'NameExpression') return wrong('fp32, bf16 or fp16');
      if (!(PRECISIONS as readonly string[]).includes(value.name.name)) {
        reporter.report(diagnosticMessages.unknownPrecision, value.name.span, { name: value.name.name }, suggestName(value.name.name, PRECISIONS, value.name.span));
        return undefined;
      }
      return value.name.name;
  }
}

function callParts(value: Expression): { name: string; span: Span; args: readonly Argument[]; whole: Span } | undefined {
  if (value.kind === 'CallExpression') return { name: value.callee.name, span: value.callee.span, args: value.args, whole: value.span };
  if (value.kind === 'NameExpression') return { name: value.name.name, span: value.span, args: [], whole: value.span };
  return undefined;
}

function readOptimizer(value: Expression, reporter: Reporter): CheckedOptimizer | undefined {
  const call = callParts(value);
  if (call === undefined) {
    reporter.report(diagnosticMessages.settingType, value.span, { name: 'optimizer', expected: 'an optimizer such as adam(lr: 1e-3)' });
    return undefined;
  }
  if (!Object.hasOwn(OPTIMIZERS, call.name)) {
    reporter.report(diagnosticMessages.unknownOptimizer, call.span, { name: call.name }, {
      ...suggestName(call.name, Object.keys(OPTIMIZERS), call.span),
    });
    return undefined;
  }
  const name = call.name as keyof typeof OPTIMIZERS;
  const { schema, stateFactor } = OPTIMIZERS[name];
  const checked = checkArguments(name, call.span, call.args, schema, EMPTY_SCOPE, reporter);
  if (!checked.ok) return undefined;
  const args: Record<string, number> = {};
  for (const parameter of schema) {
    const given = checked.values[parameter.name] ?? parameter.default;
    if (typeof given === 'number') args[parameter.name] = given;
  }
  return { name, args, stateFactor, span: call.whole };
}

function readData(value: Expression, reporter: Reporter): CheckedData | undefined {
  const call = callParts(value);
  if (call === undefined) {
    reporter.report(diagnosticMessages.settingType, value.span, { name: 'data', expected: 'a data source such as mnist(holdout: 2000)' });
    return undefined;
  }
  const schema = Object.hasOwn(DATA_SOURCES, call.name) ? DATA_SOURCES[call.name] : undefined;
  if (schema === undefined) {
    reporter.report(diagnosticMessages.unknownData, call.span, { name: call.name }, {
      ...suggestName(call.name, Object.keys(DATA_SOURCES), call.span),
    });
    return undefined;
  }
  const checked = checkArguments(call.name, call.span, call.args, schema, EMPTY_SCOPE, reporter);
  if (!checked.ok) return undefined;
  const args: Record<string, number | string | boolean> = {};
  for (const parameter of schema) {
    const given = checked.values[parameter.name] ?? parameter.default;
    if (given !== undefined) args[parameter.name] = given;
  }
  return { name: call.name, args, span: call.whole };
}

/**
 * Whether the data source produces what the model reads: MNIST gives 784
 * pixels and a class id per example, chars gives `seq` token ids and the
 * next `seq` ids. Synthetic data is generated to fit any model.
 */
export function dataMismatch(data: CheckedData, model: CheckedModel): { gives: string; takes: string } | undefined {
  const input = model.inputs[0]?.shape;
  const target = model.targets.find((t) => t.name === model.loss.target)?.shape;
  if (input === undefined || target === undefined) return undefined;
  const takes = `${formatShape(input)} → ${formatShape(target)}`;
  const perExample = (shape: TensorShape) => shape.dims.slice(1);
  if (data.name === 'mnist') {
    const pixels = elementsPerExample(input);
    const ok = input.dtype !== 'i32' && pixels === 784 && perExample(input).every((d) => typeof d === 'number')
      && target.dtype === 'i32' && target.dims.length === 1;
    return ok ? undefined : { gives: 'f32[batch, 784] (or any f32 layout of 28×28 pixels) → i32[batch] class ids', takes };
  }
  if (data.name === 'chars') {
    const seq = data.args.seq as number;
    const fits = (shape: TensorShape) => shape.dtype === 'i32' && shape.dims.length === 2 && shape.dims[1] === seq;
    return fits(input) && fits(target) ? undefined : { gives: `i32[batch, ${seq}] → i32[batch, ${seq}] (characters and the next characters)`, takes };
  }
  return undefined;
}
