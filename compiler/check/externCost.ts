// The optional cost clause of an extern layer:
//   extern layer SwiGLU(hidden: int) : [batch, d] -> [batch, d] from "./swiglu.ts"
//     cost(parameters: 3 * d * hidden, flops: 6 * d * hidden)
// The implementation is TypeScript the compiler does not run, so without the
// clause an extern layer weighs nothing: its weights are missing from the
// memory check and its work from the simulator, partitioner and scheduler.
// The clause states them per example, in expressions over the layer's
// parameters and the dims its shape pattern binds; each use of the layer
// evaluates them with its own arguments and input shape.

import type { Expression, ExternLayerDeclaration } from '../../grammar/ast.ts';
import type { Span } from '../../grammar/source.ts';
import { bytesPerExample, dtypeBytes } from '../layers/catalog.ts';
import type { LayerCosts, TensorShape } from '../program.ts';
import type { Reporter } from './context.ts';
import { evaluateNumber, type Scope } from './evaluate.ts';
import { suggestName } from './suggest.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import { MAX_EXACT_INTEGER } from '../limits.ts';

/** What the clause may state; every key is optional. */
export const EXTERN_COST_KEYS = {
  parameters: 'trainable parameters of one layer',
  flops: 'forward FLOPs per example',
  backward_input_flops: 'FLOPs per example of the input-gradient backward (I); default: flops',
  backward_weight_flops: 'FLOPs per example of the weight-gradient backward (W); default: flops when the layer has parameters, else 0',
  activations: 'elements per example kept from the forward until the backward; default: the input',
} as const;

export type ExternCostKey = keyof typeof EXTERN_COST_KEYS;

export type ExternCostClause = ReadonlyMap<ExternCostKey, Expression>;

const isCostKey = (name: string): name is ExternCostKey => Object.hasOwn(EXTERN_COST_KEYS, name);

/**
 * Checks the clause's shape once per declaration: named arguments, known
 * keys, each given once, and only names the expressions can see (the
 * parameters and the input pattern's dims). Undefined when there is none.
 */
export function checkExternCostClause(declaration: ExternLayerDeclaration, reporter: Reporter): ExternCostClause | undefined {
  if (declaration.cost === undefined) return undefined;
  const callee = `the cost of extern layer '${declaration.name.name}'`;
  const clause = new Map<ExternCostKey, Expression>();
  const visible = visibleNames(declaration);
  for (const [position, argument] of declaration.cost.entries()) {
    const key = argument.name?.name;
    if (key === '') continue; // recovered from a syntax error, already reported
    if (key === undefined) {
      reporter.report(diagnosticMessages.unknownArgument, argument.span, { callee, name: `#${position + 1}` }, {
        hint: `its arguments are named: ${Object.keys(EXTERN_COST_KEYS).map((k) => `${k}: ...`).join(', ')}`,
      });
      continue;
    }
    if (!isCostKey(key)) {
      reporter.report(diagnosticMessages.unknownArgument, argument.name!.span, { callee, name: key }, {
        ...suggestName(key, Object.keys(EXTERN_COST_KEYS), argument.name!.span, { listUpTo: 0, otherwise: `it states ${Object.keys(EXTERN_COST_KEYS).join(', ')}` }),
      });
      continue;
    }
    if (clause.has(key)) {
      reporter.report(diagnosticMessages.duplicateArgument, argument.name!.span, { name: key });
      continue;
    }
    const unknown = unknownNames(argument.value, visible);
    for (const name of unknown) {
      reporter.report(diagnosticMessages.unknownName, name.span, { name: name.name.name, context: ` in ${callee}` }, {
        ...suggestName(name.name.name, visible, name.name.span, { listUpTo: 0, otherwise: `it can use the parameters and the input pattern's dims: ${[...visible].join(', ') || 'none'}` }),
      });
    }
    if (unknown.length === 0) clause.set(key, argument.value);
  }
  return clause;
}

/**
 * The costs of one use of the layer. `scope` binds the parameters to this
 * use's arguments and the pattern's dims to its input; an expression that
 * does not come to a non-negative number here (it uses the symbolic batch
 * dim, say) is reported at the clause, with the use as related location.
 */
export function evaluateExternCosts(
  clause: ExternCostClause | undefined,
  declaration: ExternLayerDeclaration,
  scope: Scope,
  input: TensorShape,
  output: TensorShape,
  use: Span,
  reporter: Reporter,
): LayerCosts {
  const value = (key: ExternCostKey): number | undefined => {
    const expression = clause?.get(key);
    if (expression === undefined) return undefined;
    const what = `'${key}' in the cost of extern layer '${declaration.name.name}' (${EXTERN_COST_KEYS[key].split(';')[0]})`;
    const symbolic = namesIn(expression).filter((name) => typeof scope.get(name.name.name) === 'string');
    if (symbolic.length > 0) {
      reporter.report(diagnosticMessages.notConstant, expression.span, { what }, {
        hint: `'${symbolic[0].name.name}' is a symbolic dim, sized per microbatch, so it has no value per example: leave it out`,
        related: [{ span: use, message: `this use binds '${symbolic[0].name.name}' to a symbolic dim` }],
      });
      return undefined;
    }
    const result = evaluateNumber(expression, scope, reporter, what);
    if (result === undefined) return undefined;
    if (!(result >= 0) || !Number.isFinite(result) || result > MAX_EXACT_INTEGER || (key === 'parameters' && !Number.isInteger(result))) {
      reporter.report(diagnosticMessages.argumentRange, expression.span, {
        name: key, callee: `the cost of extern layer '${declaration.name.name}'`,
        bound: key === 'parameters' ? 'a whole number ≥ 0' : 'a number ≥ 0', actual: Number.isFinite(result) ? String(result) : 'a value too large to represent',
      }, { related: [{ span: use, message: 'this use gives it that value' }] });
      return undefined;
    }
    return result;
  };
  const parameters = value('parameters') ?? 0;
  const forwardFlops = value('flops') ?? 0;
  const activations = value('activations');
  return {
    parameters,
    forwardFlops,
    backwardInputFlops: value('backward_input_flops') ?? forwardFlops,
    backwardWeightFlops: value('backward_weight_flops') ?? (parameters > 0 ? forwardFlops : 0),
    activationBytes: activations === undefined ? bytesPerExample(input) : activations * dtypeBytes(input.dtype),
    outputBytes: bytesPerExample(output),
  };
}

/** The parameters and every plain name in the input pattern (`[batch, d]` binds batch and d). */
function visibleNames(declaration: ExternLayerDeclaration): Set<string> {
  const names = new Set(declaration.params.map((parameter) => parameter.name.name));
  for (const dim of declaration.inputDims) if (dim.kind === 'NameExpression') names.add(dim.name.name);
  return names;
}

type NameExpression = Extract<Expression, { kind: 'NameExpression' }>;

function unknownNames(expression: Expression, visible: ReadonlySet<string>): NameExpression[] {
  return namesIn(expression).filter((name) => name.name.name !== '' && !visible.has(name.name.name));
}

/** Every name the expression reads (the callee of min(...)/max(...) is not one). */
function namesIn(expression: Expression): NameExpression[] {
  switch (expression.kind) {
    case 'NameExpression':
      return [expression];
    case 'ParenthesizedExpression':
      return namesIn(expression.expression);
    case 'UnaryExpression':
      return namesIn(expression.operand);
    case 'BinaryExpression':
      return [...namesIn(expression.left), ...namesIn(expression.right)];
    case 'CallExpression':
      return expression.args.flatMap((argument) => namesIn(argument.value));
    default:
      return [];
  }
}
