// A model: dims, inputs and targets, layers (repeat blocks expanded, residual
// blocks kept as one unit with children), shapes propagated layer to layer
// from the first input, and the loss. Layer costs come from the catalog.
// After the first shape error the shape is unknown for the rest of the model,
// so one mistake yields one diagnostic rather than a cascade.

import type {
  Argument, Expression, ExternLayerDeclaration, LayerName, LossDeclaration, ModelDeclaration, ModelMember, TensorType,
} from '../../grammar/ast.ts';
import type { Span } from '../../grammar/source.ts';
import { bytesPerExample, formatShape, frozenCosts, LAYER_CATALOG, lookupLayer, lookupMerge, MERGE_CATALOG, residualCosts, sameShape, SKIP_ARGUMENT_NAME, withDefaults } from '../layers/catalog.ts';
import type { ArgumentSchema } from '../layers/catalog.ts';
import type { CheckedLayer, CheckedLoss, CheckedModel, CheckedSkip, CheckedTensor, Dim, DType, LayerCosts, TensorShape } from '../program.ts';
import { checkArguments } from './arguments.ts';
import { createReporter } from './context.ts';
import type { Reporter } from './context.ts';
import { evaluateDim, evaluateNumber, evaluateRange, extendScope } from './evaluate.ts';
import type { Scope } from './evaluate.ts';
import type { CheckedExternLayer } from './extern.ts';
import { evaluateExternCosts } from './externCost.ts';
import { suggestName } from './suggest.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import { MAX_EXACT_INTEGER, MAX_INTEGER_ARGUMENT, MAX_LAYERS } from '../limits.ts';

export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'i32'];
export const LOSS_FUNCTIONS = ['softmax_cross_entropy', 'mse'] as const;

/** What stage references resolve against: the model's top-level units by name. */
export interface ModelLayerTable {
  /** Display names of the top-level units, in model order. */
  readonly names: readonly string[];
  readonly spans: readonly Span[];
  /** Plain layer name → unit index. */
  readonly scalars: ReadonlyMap<string, number>;
  /** Array base name → (element index → unit index). */
  readonly arrays: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** Names declared where an error stopped their expansion (a bad repeat range or index): not "unknown" to stages. */
  readonly uncertain: ReadonlySet<string>;
  /** True when the model was too large to expand fully: the table is partial, so stages are not checked against it. */
  readonly truncated: boolean;
}

export interface ModelCheckResult {
  readonly name: string;
  readonly table: ModelLayerTable;
  /** Present when the model checked without errors. */
  readonly model?: CheckedModel;
}

export interface ExternLayerEntry {
  readonly declaration: ExternLayerDeclaration;
  /** Undefined when the implementation had problems (already reported). */
  readonly checked?: CheckedExternLayer;
}

interface LayerRecord {
  readonly name: string;
  readonly span: Span;
  readonly layer?: CheckedLayer;
}

interface ModelWalk {
  readonly reporter: Reporter;
  readonly externs: ReadonlyMap<string, ExternLayerEntry>;
  readonly modelName: string;
  failed: boolean;
  readonly uncertain: Set<string>;
  /** Layers instantiated so far; nested repeats could otherwise multiply into millions. */
  layerCount: number;
  /** Set once the model is too large: the walk stops. */
  aborted: boolean;
  /** What produced the current shape (the input or the previous layer), for related locations. */
  producer?: { readonly name: string; readonly span: Span };
  /** Every unit declared so far at any level, by display name ('enc', 'mlp.up'): what a merge's skip resolves against. */
  readonly outputs: Map<string, { readonly shape?: TensorShape; readonly span: Span }>;
  /** Base names of every layer and residual block anywhere in the model: a skip naming one not yet seen names a later one. */
  readonly declaredAnywhere: ReadonlySet<string>;
  /** Input and target tensor names (not layers, so not skip sources). */
  readonly tensors: ReadonlyMap<string, 'input' | 'target'>;
  /** Skips between top-level units, by display name, resolved to indices at the end. */
  readonly skips: { readonly source: string; readonly merge: string; readonly bytesPerExample: number; readonly span: Span }[];
}


export function checkModel(
  declaration: ModelDeclaration,
  externs: ReadonlyMap<string, ExternLayerEntry>,
  reporter: Reporter,
): ModelCheckResult {
  const modelName = declaration.name.name;
  const declaredAnywhere = new Set<string>();
  declaredNames(declaration.members, declaredAnywhere);
  const tensorRoles = new Map<string, 'input' | 'target'>();
  for (const member of declaration.members) if (member.kind === 'TensorDeclaration') tensorRoles.set(member.name.name, member.role);
  const walk: ModelWalk = {
    reporter, externs, modelName, failed: false, uncertain: new Set(), layerCount: 0, aborted: false,
    outputs: new Map(), declaredAnywhere, tensors: tensorRoles, skips: [],
  };
  const errorsBefore = reporter.diagnostics.filter((d) => d.severity === 'error').length;

  // Dims first, so tensors and layers may use them wherever they are declared.
  let scope: Scope = new Map([['batch', 'batch']]);
  const dims: Record<string, number | null> = { batch: null };
  for (const member of declaration.members) {
    if (member.kind !== 'DimDeclaration' || member.name.name === '') continue;
    const name = member.name.name;
    if (member.value === undefined) {
      dims[name] = null;
      scope = extendScope(scope, name, name);
    } else {
      const value = evaluateNumber(member.value, scope, reporter, `dim '${name}'`);
      if (value !== undefined) {
        dims[name] = value;
        scope = extendScope(scope, name, value);
      }
    }
  }

  const inputs: CheckedTensor[] = [];
  const targets: CheckedTensor[] = [];
  const tensorNames = new Map<string, Span>();
  for (const member of declaration.members) {
    if (member.kind !== 'TensorDeclaration' || member.name.name === '') continue;
    const previous = tensorNames.get(member.name.name);
    if (previous !== undefined) {
      reporter.report(diagnosticMessages.duplicateLayer, member.name.span, { name: member.name.name, model: modelName }, {
        related: [{ span: previous, message: 'first declared here' }],
      });
      continue;
    }
    tensorNames.set(member.name.name, member.name.span);
    const shape = checkTensorType(member.type, scope, reporter);
    if (shape === undefined) { walk.failed = true; continue; }
    const tensor: CheckedTensor = { name: member.name.name, role: member.role, shape, span: member.span };
    (member.role === 'input' ? inputs : targets).push(tensor);
  }

  const records: LayerRecord[] = [];
  const scalars = new Map<string, number>();
  const arrays = new Map<string, Map<number, number>>();
  const firstSpans = new Map<string, Span>();
  for (const [name, span] of tensorNames) firstSpans.set(name, span);

  const registerTopLevel = (layerName: LayerName, index: number | undefined, record: LayerRecord): void => {
    const position = records.length;
    records.push(record);
    if (index === undefined) scalars.set(layerName.base.name, position);
    else {
      let elements = arrays.get(layerName.base.name);
      if (elements === undefined) arrays.set(layerName.base.name, (elements = new Map()));
      elements.set(index, position);
    }
  };

  const startShape = inputs[0]?.shape;
  if (inputs[0] !== undefined) walk.producer = { name: `input '${inputs[0].name}'`, span: inputs[0].span };
  if (inputs.length === 0 && !walk.failed) {
    reporter.report(diagnosticMessages.incompleteModel, declaration.name.span, { name: modelName, what: 'input' }, {
      hint: 'declare the data the first layer reads, e.g. input x: f32[batch, 784]',
    });
  }
  const finalShape = walkMembers(walk, declaration.members, scope, startShape, '', firstSpans, registerTopLevel);

  if (records.length === 0 && declaration.name.name !== '') {
    reporter.report(diagnosticMessages.incompleteModel, declaration.name.span, { name: modelName, what: 'layers' }, {
      hint: 'add layers, e.g. layer out = Dense(units: 10)',
    });
  }

  const losses = declaration.members.filter((member): member is LossDeclaration => member.kind === 'LossDeclaration');
  let loss: CheckedLoss | undefined;
  if (walk.aborted) {
    // The layers are partial: the loss cannot be checked against the last one.
  } else if (losses.length === 0) {
    if (records.length > 0) {
      reporter.report(diagnosticMessages.incompleteModel, declaration.name.span, { name: modelName, what: 'loss' }, {
        hint: `add a loss, e.g. loss softmax_cross_entropy(${records[records.length - 1].name}, y)`,
      });
    }
  } else {
    loss = checkLoss(losses[0], records, targets, finalShape, walk);
    for (const extra of losses.slice(1)) {
      reporter.report(diagnosticMessages.duplicateDeclaration, extra.span, { kind: 'loss', name: extra.function.name }, {
        related: [{ span: losses[0].span, message: 'first declared here' }],
      });
    }
  }

  const table: ModelLayerTable = {
    names: records.map((record) => record.name),
    spans: records.map((record) => record.span),
    scalars,
    arrays,
    uncertain: walk.uncertain,
    truncated: walk.aborted,
  };
  const errorsAfter = reporter.diagnostics.filter((d) => d.severity === 'error').length;
  const layers = records.map((record) => record.layer);
  if (errorsAfter > errorsBefore || walk.failed || loss === undefined || layers.some((layer) => layer === undefined)) {
    return { name: modelName, table };
  }
  const skips: CheckedSkip[] = walk.skips.map((skip) => ({
    source: scalars.get(skip.source)!, merge: records.findIndex((record) => record.name === skip.merge), bytesPerExample: skip.bytesPerExample, span: skip.span,
  }));
  return {
    name: modelName,
    table,
    model: { name: modelName, dims, inputs, targets, layers: layers as CheckedLayer[], skips, loss, span: declaration.span },
  };
}

function checkTensorType(type: TensorType, scope: Scope, reporter: Reporter): TensorShape | undefined {
  const dtype = type.dtype.name;
  let ok = true;
  if (!DTYPES.includes(dtype as DType)) {
    ok = false;
    if (dtype !== '') {
      reporter.report(diagnosticMessages.unknownDtype, type.dtype.span, { name: dtype }, {
        ...suggestName(dtype, DTYPES, type.dtype.span, { otherwise: `use one of ${DTYPES.join(', ')}` }),
      });
    }
  }
  const dims: Dim[] = [];
  for (const expression of type.dims) {
    const dim = evaluateDim(expression, scope, reporter);
    if (dim === undefined) ok = false;
    else if (typeof dim === 'number' && (!Number.isFinite(dim) || dim > MAX_INTEGER_ARGUMENT)) {
      ok = false;
      reporter.report(diagnosticMessages.sizeOverflow, expression.span, { what: 'this dimension', value: describeNumber(dim), limit: `${MAX_INTEGER_ARGUMENT} (2^31 - 1)` });
    } else if (typeof dim === 'number' && (!Number.isInteger(dim) || dim < 1)) {
      ok = false;
      reporter.report(diagnosticMessages.notConstant, expression.span, { what: `a dimension (a positive integer, not ${dim})` });
    } else dims.push(dim);
  }
  const elements = dims.reduce<number>((product, dim) => product * (typeof dim === 'number' ? dim : 1), 1);
  if (ok && elements > MAX_EXACT_INTEGER) {
    ok = false;
    reporter.report(diagnosticMessages.sizeOverflow, type.span, { what: 'the element count of one example of this tensor', value: describeNumber(elements), limit: '2^53' });
  }
  return ok ? { dtype: dtype as DType, dims } : undefined;
}

function layerDisplayName(layerName: LayerName, index: number | undefined, prefix: string): string {
  return `${prefix}${layerName.base.name}${index === undefined ? '' : `[${index}]`}`;
}

function evaluateLayerIndex(walk: ModelWalk, layerName: LayerName, scope: Scope): { ok: boolean; index?: number } {
  if (layerName.index === undefined) return { ok: true };
  const index = evaluateNumber(layerName.index, scope, walk.reporter, 'a layer index');
  if (index === undefined) return { ok: false };
  if (!Number.isInteger(index) || index < 0) {
    walk.reporter.report(diagnosticMessages.notConstant, layerName.index.span, { what: `a layer index (a non-negative integer, not ${index})` });
    return { ok: false };
  }
  return { ok: true, index };
}

/**
 * Walks members in order, threading the current shape (undefined once unknown).
 * `register` receives each unit declared at this level (repeat bodies count as this level).
 */
function walkMembers(
  walk: ModelWalk,
  members: readonly ModelMember[],
  scope: Scope,
  shape: TensorShape | undefined,
  prefix: string,
  declared: Map<string, Span>,
  register: (name: LayerName, index: number | undefined, record: LayerRecord) => void,
): TensorShape | undefined {
  let current = shape;
  for (const member of members) {
    if (walk.aborted) return undefined;
    switch (member.kind) {
      case 'LayerDeclaration': {
        if (member.name.base.name === '') { walk.failed = true; current = undefined; break; }
        if (++walk.layerCount > MAX_LAYERS) {
          walk.reporter.report(diagnosticMessages.tooLarge, member.span, { what: `model '${walk.modelName}'`, count: `more than ${MAX_LAYERS}`, limit: MAX_LAYERS });
          walk.aborted = true;
          walk.failed = true;
          return undefined;
        }
        const { ok, index } = evaluateLayerIndex(walk, member.name, scope);
        if (!ok) { walk.failed = true; current = undefined; walk.uncertain.add(member.name.base.name); break; }
        const name = layerDisplayName(member.name, index, prefix);
        if (!claimName(walk, declared, name, member.name)) { current = undefined; break; }
        const checked = checkLayer(walk, member.operator.name, member.operator.span, member.args, scope, current, name, member.span, prefix);
        if (checked !== undefined && member.frozen !== undefined && checked.parameters === 0) {
          walk.reporter.report(diagnosticMessages.frozenWithoutParameters, member.frozen.span, { name });
        }
        const layer = checked !== undefined && member.frozen !== undefined ? freezeLayer(checked) : checked;
        register(member.name, index, { name, span: member.name.span, layer });
        walk.outputs.set(name, { shape: layer?.outputShape, span: member.name.span });
        current = layer?.outputShape;
        walk.producer = { name: `layer '${name}'`, span: member.name.span };
        break;
      }
      case 'RepeatBlock': {
        if (member.variable.name === '') { walk.failed = true; break; }
        const range = evaluateRange(member.range, scope, walk.reporter, 'a repeat range');
        if (range === undefined) {
          walk.failed = true;
          current = undefined;
          declaredNames(member.body, walk.uncertain);
          break;
        }
        if (range.to <= range.from) {
          walk.reporter.report(diagnosticMessages.emptyRepeat, member.range.span, { range: `${range.from}..${range.to}` }, {
            hint: 'ranges are half-open: 0..4 is 0, 1, 2, 3',
          });
        }
        for (let i = range.from; i < range.to && !walk.aborted; i++) {
          current = walkMembers(walk, member.body, extendScope(scope, member.variable.name, i), current, prefix, declared, register);
        }
        break;
      }
      case 'ResidualBlock': {
        if (member.name.base.name === '') { walk.failed = true; current = undefined; break; }
        const { ok, index } = evaluateLayerIndex(walk, member.name, scope);
        if (!ok) { walk.failed = true; current = undefined; break; }
        const name = layerDisplayName(member.name, index, prefix);
        if (!claimName(walk, declared, name, member.name)) { current = undefined; break; }
        const children: CheckedLayer[] = [];
        let childrenOk = true;
        const childNames = new Map<string, Span>();
        const output = walkMembers(walk, member.body, scope, current, `${name}.`, childNames, (_n, _i, record) => {
          if (record.layer === undefined) childrenOk = false;
          else children.push(record.layer);
        });
        let layer: CheckedLayer | undefined;
        if (current !== undefined && output !== undefined && childrenOk) {
          if (children.length === 0) {
            walk.reporter.report(diagnosticMessages.incompleteModel, member.name.span, { name, what: 'layers in its residual body' });
          } else if (!sameShape(current, output)) {
            walk.reporter.report(diagnosticMessages.residualShape, member.name.span, {
              name, input: formatShape(current), output: formatShape(output),
            }, { hint: 'the body is added back to its input, so its last layer must produce the input shape' });
          } else {
            const costs = residualCosts(current, children);
            layer = {
              name, operator: 'Residual', args: {}, inputShape: current, outputShape: current,
              ...costs, children, span: member.span,
            };
          }
        }
        register(member.name, index, { name, span: member.name.span, layer });
        walk.outputs.set(name, { shape: layer?.outputShape, span: member.name.span });
        current = layer?.outputShape;
        walk.producer = { name: `residual block '${name}'`, span: member.name.span };
        break;
      }
      case 'DimDeclaration':
      case 'TensorDeclaration':
      case 'LossDeclaration':
        // Handled by checkModel before and after the walk.
        break;
    }
  }
  return current;
}

/** Base names of the layers and residual blocks declared in members, at any depth of repeats. */
function declaredNames(members: readonly ModelMember[], into: Set<string>): void {
  for (const member of members) {
    if (member.kind === 'LayerDeclaration' || member.kind === 'ResidualBlock') into.add(member.name.base.name);
    else if (member.kind === 'RepeatBlock') declaredNames(member.body, into);
  }
}

function claimName(walk: ModelWalk, declared: Map<string, Span>, name: string, layerName: LayerName): boolean {
  const previous = declared.get(name);
  if (previous !== undefined) {
    walk.reporter.report(diagnosticMessages.duplicateLayer, layerName.span, { name, model: walk.modelName }, {
      related: [{ span: previous, message: 'first declared here' }],
      hint: layerName.index === undefined ? 'give each layer its own name, or use an indexed array such as hidden[i]' : undefined,
    });
    walk.failed = true;
    return false;
  }
  declared.set(name, layerName.span);
  return true;
}

function checkLayer(
  walk: ModelWalk,
  operator: string,
  operatorSpan: Span,
  args: readonly Argument[],
  scope: Scope,
  input: TensorShape | undefined,
  name: string,
  span: Span,
  prefix: string,
): CheckedLayer | undefined {
  const { reporter } = walk;
  if (operator === '') return undefined;
  const builtin = lookupLayer(operator);
  const extern = walk.externs.get(operator);
  const merge = lookupMerge(operator);
  if (merge !== undefined) return checkMerge(walk, operator, operatorSpan, args, scope, input, name, span, prefix);
  if (builtin === undefined && extern === undefined) {
    const builtins = [...LAYER_CATALOG.keys(), ...MERGE_CATALOG.keys()];
    reporter.report(diagnosticMessages.unknownOperator, operatorSpan, { name: operator }, {
      ...suggestName(operator, [...builtins, ...walk.externs.keys()], operatorSpan, {
        listUpTo: 0, otherwise: `built-in layers: ${builtins.join(', ')}; declare others with extern layer`,
      }),
    });
    return undefined;
  }
  const schema = builtin?.arguments ?? externSchema(extern!.declaration);
  const checkedArgs = checkArguments(operator, operatorSpan, args, schema, scope, reporter);
  if (!checkedArgs.ok || input === undefined) return undefined;

  if (builtin !== undefined) {
    const values = withDefaults(builtin, checkedArgs.values);
    const inferred = builtin.inferShape(input, values);
    if (!inferred.ok) {
      reporter.report(diagnosticMessages.shapeMismatch, span, {
        layer: `${name} (${operator})`, expected: inferred.expected, actual: formatShape(input), reason: inferred.reason,
      }, { hint: shapeHint(operator, input, walk.producer?.name.startsWith('input') === true), related: producedHere(walk, input) });
      return undefined;
    }
    const costs = builtin.costs(input, inferred.shape, values);
    if (!costsRepresentable(walk, `${name} (${operator})`, inferred.shape, costs, span)) return undefined;
    return { name, operator, args: values, inputShape: input, outputShape: inferred.shape, ...costs, children: [], span };
  }

  if (extern!.checked === undefined) return undefined;
  const values = { ...externDefaults(extern!.declaration, scope, reporter), ...checkedArgs.values };
  const matched = matchExternShape(extern!.declaration, values, input, scope);
  if (!matched.ok) {
    reporter.report(diagnosticMessages.externShapeMismatch, span, {
      name: operator, expected: matched.expected, actual: formatShape(input),
    }, { hint: matched.reason, related: producedHere(walk, input) });
    return undefined;
  }
  // Without a cost clause the TypeScript implementation's parameters and work are unknown
  // here (zero; `pipec profile` measures the work); the tensors it keeps are known.
  // The pattern's bindings hold the numeric arguments and the dims it matched.
  const costs = evaluateExternCosts(extern!.checked.cost, extern!.declaration, new Map([...scope, ...matched.bindings]), input, matched.shape, span, walk.reporter);
  if (!costsRepresentable(walk, `${name} (${operator})`, matched.shape, costs, span)) return undefined;
  return {
    name, operator, args: values, inputShape: input, outputShape: matched.shape, ...costs, children: [],
    ...(extern!.checked.cost?.has('parameters') ? { parametersDeclared: true } : {}),
    implementation: extern!.checked.implementation, span,
  };
}

/**
 * A merge layer (Add, Concat): its arguments, the earlier layer its `skip`
 * names (resolved at this level of the model: the top level, or the body
 * of the residual block it sits in), and its shape rule over the input and
 * that layer's output. Every problem is reported at the `skip` argument.
 */
function checkMerge(
  walk: ModelWalk,
  operator: string,
  operatorSpan: Span,
  args: readonly Argument[],
  scope: Scope,
  input: TensorShape | undefined,
  name: string,
  span: Span,
  prefix: string,
): CheckedLayer | undefined {
  const merge = lookupMerge(operator)!;
  const checkedArgs = checkArguments(operator, operatorSpan, args, merge.arguments, scope, walk.reporter);
  // Positional arguments bind in schema order, and `skip` comes first.
  const skipArgument = args.find((argument) => argument.name?.name === SKIP_ARGUMENT_NAME) ?? args.find((argument) => argument.name === undefined);
  const layer = `${name} (${operator})`;
  const skip = skipArgument === undefined ? undefined : resolveSkip(walk, skipArgument.value, layer, name, prefix);
  if (!checkedArgs.ok || skip === undefined || input === undefined) return undefined;
  const values = withDefaults(merge, { ...checkedArgs.values, [SKIP_ARGUMENT_NAME]: skip.name });
  const inferred = merge.inferShape(input, skip.shape, values);
  if (!inferred.ok) {
    walk.reporter.report(diagnosticMessages.skipShape, skipArgument!.value.span, {
      layer, input: formatShape(input), name: skip.name, skip: formatShape(skip.shape), reason: inferred.reason,
    }, { related: [{ span: skip.span, message: `'${skip.name}' produces ${formatShape(skip.shape)}` }, ...producedHere(walk, input)] });
    return undefined;
  }
  const costs = merge.costs(input, skip.shape, inferred.shape, values);
  if (!costsRepresentable(walk, layer, inferred.shape, costs, span)) return undefined;
  if (prefix === '') walk.skips.push({ source: skip.name, merge: name, bytesPerExample: bytesPerExample(skip.shape), span: skipArgument!.value.span });
  return { name, operator, args: values, inputShape: input, outputShape: inferred.shape, ...costs, children: [], span };
}

/** The earlier layer a merge's `skip` names, at the merge's own level; undefined (reported) when it names none. */
function resolveSkip(walk: ModelWalk, expression: Expression, layer: string, mergeName: string, prefix: string): { name: string; shape: TensorShape; span: Span } | undefined {
  const { reporter } = walk;
  if (expression.kind !== 'NameExpression') {
    const actual = expression.kind === 'NumberLiteral' || expression.kind === 'QuantityLiteral' ? 'a number'
      : expression.kind === 'StringLiteral' ? 'a string' : expression.kind === 'BooleanLiteral' ? 'a boolean' : 'an expression';
    reporter.report(diagnosticMessages.skipNotLayerName, expression.span, { layer, actual }, { hint: 'write the name of an earlier layer, e.g. skip: enc' });
    return undefined;
  }
  const written = expression.name.name;
  if (written === '') return undefined;
  const role = walk.tensors.get(written);
  if (role !== undefined) {
    reporter.report(diagnosticMessages.skipNotLayerName, expression.span, { layer, actual: `the ${role} tensor '${written}'` }, {
      hint: "a skip carries a layer's output; to add the model's input back, start a residual block there",
    });
    return undefined;
  }
  const full = `${prefix}${written}`;
  const found = walk.outputs.get(full);
  if (found !== undefined) {
    // A source that failed to check was reported already.
    return found.shape === undefined ? undefined : { name: full, shape: found.shape, span: found.span };
  }
  if ([...walk.outputs.keys()].some((key) => key.startsWith(`${full}[`))) {
    reporter.report(diagnosticMessages.skipNotLayerName, expression.span, { layer, actual: `the layer array '${written}'` }, {
      hint: 'a skip names one plain layer; give the source a name of its own, outside the repeat',
    });
    return undefined;
  }
  if (full === mergeName) {
    reporter.report(diagnosticMessages.skipSourceNotEarlier, expression.span, { layer, name: written, where: 'is the layer itself' }, {
      hint: 'a skip carries the output of an earlier layer forward',
    });
    return undefined;
  }
  const block = prefix.slice(0, -1);
  const outside = prefix !== '' && walk.outputs.has(written);
  const inside = [...walk.outputs.keys()].find((key) => key.endsWith(`.${written}`) && key.slice(0, -written.length - 1) !== block);
  if (outside || inside !== undefined) {
    const where = outside ? `outside residual block '${block}'` : `inside residual block '${inside!.slice(0, -written.length - 1)}'`;
    reporter.report(diagnosticMessages.skipOtherLevel, expression.span, { layer, name: written, where }, {
      hint: 'a residual body runs as one unit: a merge inside it takes its skip from the same body, and one outside from outside',
    });
    return undefined;
  }
  if (walk.declaredAnywhere.has(written)) {
    reporter.report(diagnosticMessages.skipSourceNotEarlier, expression.span, { layer, name: written, where: 'comes after it in the model' }, {
      hint: 'a skip carries the output of an earlier layer forward; declare the source before the merge',
    });
    return undefined;
  }
  if (walk.uncertain.has(written)) return undefined;
  const candidates = [...walk.outputs.keys()].filter((key) => key.startsWith(prefix) && !key.slice(prefix.length).includes('.')).map((key) => key.slice(prefix.length));
  reporter.report(diagnosticMessages.unknownSkipSource, expression.span, { layer, name: written, model: walk.modelName }, {
    ...suggestName(written, candidates, expression.name.span, { otherwise: 'name a layer declared before this one' }),
  });
  return undefined;
}

const COST_WORDS: Readonly<Record<keyof LayerCosts, string>> = {
  parameters: 'the parameter count', forwardFlops: 'the forward FLOPs per example', backwardInputFlops: 'the input-gradient FLOPs per example',
  backwardWeightFlops: 'the weight-gradient FLOPs per example', activationBytes: 'the activation bytes per example', outputBytes: 'the output bytes per example',
  weightGradientBytes: 'the weight-gradient bytes per example', keptInputBytes: 'the kept input bytes per example', keptOutputBytes: 'the kept output bytes per example',
};

/**
 * A layer whose sizes cannot be counted exactly (beyond 2^53) would reach
 * the memory check and the simulator as rounded, infinite or NaN numbers,
 * where a comparison with NaN is false and no check fires.
 */
function costsRepresentable(walk: ModelWalk, layer: string, output: TensorShape, costs: LayerCosts, span: Span): boolean {
  const elements = output.dims.reduce<number>((product, dim) => product * (typeof dim === 'number' ? dim : 1), 1);
  const checks: [string, number][] = [['the output element count per example', elements], ...Object.entries(COST_WORDS).map(([key, words]): [string, number] => [words, costs[key as keyof LayerCosts] ?? 0])];
  for (const [what, value] of checks) {
    if (Number.isFinite(value) && Math.abs(value) <= MAX_EXACT_INTEGER) continue;
    walk.reporter.report(diagnosticMessages.sizeOverflow, span, { what: `${what} of ${layer}`, value: describeNumber(value), limit: '2^53' }, {
      hint: 'a layer this large fits no device; check the sizes of its arguments',
    });
    walk.failed = true;
    return false;
  }
  return true;
}

/** A number as a reader wants it: 1.2e+20, or words for the non-finite. */
export function describeNumber(value: number): string {
  if (Number.isNaN(value)) return 'not a number';
  if (!Number.isFinite(value)) return 'too large to represent';
  return Math.abs(value) >= 1e15 ? value.toExponential(2) : String(value);
}

function producedHere(walk: ModelWalk, shape: TensorShape): { span: Span; message: string }[] {
  return walk.producer === undefined ? [] : [{ span: walk.producer.span, message: `${walk.producer.name} produces ${formatShape(shape)}` }];
}

function shapeHint(operator: string, input: TensorShape, fromInput: boolean): string | undefined {
  if (operator === 'Dense' && input.dtype === 'i32') return 'integer tokens need an Embedding first';
  if ((operator === 'Conv2D' || operator === 'MaxPool') && input.dims.length === 2) {
    return fromInput ? 'declare the input as an image, e.g. f32[batch, 28, 28, 1]' : 'convolutions go before Flatten and Dense layers, which make images flat';
  }
  if (operator === 'Embedding') return 'declare the input as i32 token ids';
  return undefined;
}

function externSchema(declaration: ExternLayerDeclaration): readonly ArgumentSchema[] {
  return declaration.params.map((parameter): ArgumentSchema => ({
    name: parameter.name.name,
    type: parameter.type.name === 'bool' ? 'bool' : parameter.type.name === 'float' ? 'float' : parameter.type.name === 'string' ? 'string' : 'int',
    required: parameter.default === undefined,
    description: `${parameter.type.name} parameter of ${declaration.name.name}`,
  }));
}

function externDefaults(declaration: ExternLayerDeclaration, scope: Scope, reporter: Reporter): Record<string, number | string | boolean> {
  const values: Record<string, number | string | boolean> = {};
  for (const parameter of declaration.params) {
    if (parameter.default === undefined) continue;
    const value = parameter.default.kind === 'BooleanLiteral' || parameter.default.kind === 'StringLiteral'
      ? parameter.default.value
      : evaluateNumber(parameter.default, scope, reporter, `the default of '${parameter.name.name}'`);
    if (value !== undefined) values[parameter.name.name] = value;
  }
  return values;
}

/** Matches the input against the declared pattern, binding fresh names; then builds the output. */
function matchExternShape(
  declaration: ExternLayerDeclaration,
  args: Readonly<Record<string, number | string | boolean>>,
  input: TensorShape,
  scope: Scope,
): { ok: true; shape: TensorShape; bindings: ReadonlyMap<string, number | string> } | { ok: false; expected: string; reason: string } {
  const silent = createReporter();
  const bindings = new Map<string, number | string>();
  for (const [key, value] of Object.entries(args)) if (typeof value === 'number') bindings.set(key, value);
  const pattern = `${input.dtype}[${declaration.inputDims.map(textOfDim).join(', ')}]`;
  if (declaration.inputDims.length !== input.dims.length) {
    return { ok: false, expected: pattern, reason: `the declaration expects rank ${declaration.inputDims.length}, the input has rank ${input.dims.length}` };
  }
  for (let i = 0; i < declaration.inputDims.length; i++) {
    const expression = declaration.inputDims[i];
    const actual = input.dims[i];
    if (expression.kind === 'NameExpression' && !bindings.has(expression.name.name)) {
      bindings.set(expression.name.name, actual);
      continue;
    }
    const expected = expression.kind === 'NameExpression'
      ? bindings.get(expression.name.name)
      : evaluateDim(expression, new Map([...scope, ...bindings]), silent);
    if (expected !== actual) {
      return { ok: false, expected: pattern, reason: `dimension ${i + 1} must be ${expected ?? textOfDim(expression)}, not ${actual}` };
    }
  }
  const dims: Dim[] = [];
  for (const expression of declaration.outputDims) {
    const value = expression.kind === 'NameExpression' && bindings.has(expression.name.name)
      ? bindings.get(expression.name.name)!
      : evaluateDim(expression, new Map([...scope, ...bindings]), silent);
    if (value === undefined) {
      return { ok: false, expected: pattern, reason: `the output dimension '${textOfDim(expression)}' is not bound by the input pattern or the parameters` };
    }
    dims.push(value);
  }
  return { ok: true, shape: { dtype: input.dtype, dims }, bindings };
}

function textOfDim(expression: Expression): string {
  switch (expression.kind) {
    case 'NameExpression': return expression.name.name;
    case 'NumberLiteral': return expression.text;
    default: return '…';
  }
}

function checkLoss(
  declaration: LossDeclaration,
  records: readonly LayerRecord[],
  targets: readonly CheckedTensor[],
  output: TensorShape | undefined,
  walk: ModelWalk,
): CheckedLoss | undefined {
  const { reporter } = walk;
  const fn = declaration.function.name;
  if (fn === '') return undefined;
  let ok = true;
  if (!(LOSS_FUNCTIONS as readonly string[]).includes(fn)) {
    ok = false;
    reporter.report(diagnosticMessages.unknownLoss, declaration.function.span, { name: fn }, {
      ...suggestName(fn, LOSS_FUNCTIONS, declaration.function.span, { otherwise: `supported: ${LOSS_FUNCTIONS.join(', ')}` }),
    });
  }
  const [first, second] = declaration.args;
  const last = records[records.length - 1];
  if (first === undefined || second === undefined || declaration.args.length > 2) {
    // Point at the first argument too many, or at the whole loss when one is missing.
    const extra = declaration.args[2];
    reporter.report(diagnosticMessages.lossArity, extra?.value.span ?? declaration.span, { name: fn, count: declaration.args.length }, {
      hint: `write loss ${fn}(${last?.name ?? 'out'}, <target>)`,
    });
    return undefined;
  }
  const firstName = first.value.kind === 'NameExpression' ? first.value.name.name : undefined;
  if (last !== undefined && firstName !== last.name && firstName !== last.name.replace(/\[\d+\]$/, '')) {
    ok = false;
    reporter.report(diagnosticMessages.lossNotLastLayer, first.value.span, { last: last.name, name: firstName ?? '(an expression)' }, {
      hint: 'the loss reads the output of the whole model, which is its last layer',
    });
  }
  const secondName = second.value.kind === 'NameExpression' ? second.value.name.name : undefined;
  const target = targets.find((candidate) => candidate.name === secondName);
  if (target === undefined) {
    reporter.report(diagnosticMessages.lossNotTarget, second.value.span, { name: secondName ?? '(an expression)' }, targets.length > 0
      ? suggestName(secondName ?? '', targets.map((t) => t.name), second.value.span, { otherwise: `targets: ${targets.map((t) => t.name).join(', ')}` })
      : { hint: 'declare one, e.g. target y: i32[batch]' });
    return undefined;
  }
  if (!ok) return undefined;
  if (output !== undefined) {
    const problem = lossShapeProblem(fn, output, target.shape);
    if (problem !== undefined) {
      reporter.report(diagnosticMessages.lossShape, declaration.span, {
        function: fn, output: formatShape(output), target: formatShape(target.shape), reason: problem,
      }, { related: [{ span: target.span, message: `target '${target.name}' is declared here` }] });
      return undefined;
    }
  }
  return { function: fn, target: target.name, span: declaration.span };
}

function lossShapeProblem(fn: string, output: TensorShape, target: TensorShape): string | undefined {
  const dimsEqual = (a: readonly Dim[], b: readonly Dim[]) => a.length === b.length && a.every((d, i) => d === b[i]);
  if (output.dtype === 'i32') return 'the model output must be floating-point';
  if (fn === 'softmax_cross_entropy') {
    // One class has probability 1 whatever the model says: nothing to learn, and the runtime's one-hot of
    // the targets needs a depth of at least 2 (found by the fuzzer: a mutant with 1 output unit).
    const classes = output.dims[output.dims.length - 1];
    if (typeof classes === 'number' && classes < 2) return `softmax cross-entropy needs at least 2 classes in the output's last dimension, got ${classes}`;
    if (target.dtype === 'i32') {
      return dimsEqual(output.dims.slice(0, -1), target.dims)
        ? undefined
        : `integer class targets must have the output's shape without its last (class) dimension, i.e. i32[${output.dims.slice(0, -1).join(', ')}]`;
    }
    return dimsEqual(output.dims, target.dims) ? undefined : 'probability targets must have the same shape as the output';
  }
  if (target.dtype === 'i32') return 'mse needs a floating-point target';
  return dimsEqual(output.dims, target.dims) ? undefined : 'mse needs a target of the same shape as the output';
}

/** The layer with its parameters frozen (and every layer inside it): no weight gradient, no W work. */
export function freezeLayer(layer: CheckedLayer): CheckedLayer {
  return { ...frozenCosts(layer), frozen: true, children: layer.children.map(freezeLayer) };
}

/** Parameters of the layer that are trained: all of them, none when it is frozen, its unfrozen children's for a residual block. */
export function trainableParameters(layer: CheckedLayer): number {
  if (layer.frozen === true) return 0;
  if (layer.children.length === 0) return layer.parameters;
  return layer.children.reduce((sum, child) => sum + trainableParameters(child), 0);
}

/** Whether the layer, or a layer inside it, is frozen. */
export function containsFrozen(layer: CheckedLayer): boolean {
  return layer.frozen === true || layer.children.some(containsFrozen);
}
