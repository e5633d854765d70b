// Constant evaluation of the expressions the checker needs as values:
// dims, repeat ranges, layer indices, layer arguments and settings. Names
// resolve in a scope of loop variables and dims; a symbolic dim (`batch`)
// evaluates to its name so shapes can carry it.

import type { Expression, RangeExpression } from '../../grammar/ast.ts';
import type { ArgumentValue } from '../program.ts';
import type { Reporter } from './context.ts';
import { suggestName } from './suggest.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';
import { MAX_RANGE_ELEMENTS } from '../limits.ts';

/** Loop variables and fixed dims are numbers; symbolic dims are their own name. */
export type Scope = ReadonlyMap<string, number | string>;

export const EMPTY_SCOPE: Scope = new Map();

export function extendScope(scope: Scope, name: string, value: number | string): Scope {
  const next = new Map(scope);
  next.set(name, value);
  return next;
}

/**
 * Evaluates to a number, a symbolic dim name, a boolean or a bare name.
 * `bareNames` lets unknown names through as strings (enum arguments such as
 * `relu`); otherwise an unknown name is reported.
 */
function evaluate(
  expression: Expression,
  scope: Scope,
  reporter: Reporter,
  bareNames: boolean,
): ArgumentValue | undefined {
  switch (expression.kind) {
    case 'NumberLiteral':
      return expression.value;
    case 'QuantityLiteral':
      // Quantities are only meaningful where a unit is expected; callers handle them first.
      return undefined;
    case 'StringLiteral':
      return expression.value;
    case 'BooleanLiteral':
      return expression.value;
    case 'ParenthesizedExpression':
      return evaluate(expression.expression, scope, reporter, bareNames);
    case 'NameExpression': {
      const name = expression.name.name;
      if (name === '') return undefined; // recovered from a syntax error, already reported
      const bound = scope.get(name);
      if (bound !== undefined) return bound;
      if (bareNames) return name;
      reporter.report(diagnosticMessages.unknownName, expression.span, { name, context: '' }, {
        ...suggestName(name, scope.keys(), expression.name.span),
      });
      return undefined;
    }
    case 'UnaryExpression': {
      const operand = evaluate(expression.operand, scope, reporter, false);
      if (expression.operator === '-') return typeof operand === 'number' ? -operand : undefined;
      return typeof operand === 'boolean' ? !operand : undefined;
    }
    case 'BinaryExpression': {
      const left = evaluate(expression.left, scope, reporter, false);
      const right = evaluate(expression.right, scope, reporter, false);
      if (typeof left === 'boolean' && typeof right === 'boolean') {
        if (expression.operator === '&&') return left && right;
        if (expression.operator === '||') return left || right;
        if (expression.operator === '==') return left === right;
        if (expression.operator === '!=') return left !== right;
        return undefined;
      }
      if (typeof left !== 'number' || typeof right !== 'number') return undefined;
      switch (expression.operator) {
        case '+': return left + right;
        case '-': return left - right;
        case '*': return left * right;
        case '/': return right === 0 ? undefined : left / right;
        case '%': return right === 0 ? undefined : left % right;
        case '==': return left === right;
        case '!=': return left !== right;
        case '<': return left < right;
        case '<=': return left <= right;
        case '>': return left > right;
        case '>=': return left >= right;
        default: return undefined;
      }
    }
    case 'CallExpression': {
      const callee = expression.callee.name;
      if (callee === 'min' || callee === 'max') {
        const values = expression.args.map((arg) => evaluate(arg.value, scope, reporter, false));
        if (values.length === 0 || values.some((v) => typeof v !== 'number')) return undefined;
        return callee === 'min' ? Math.min(...(values as number[])) : Math.max(...(values as number[]));
      }
      return undefined;
    }
  }
}

/** A value for a layer or call argument: numbers, booleans, strings and bare names. */
export function evaluateArgument(expression: Expression, scope: Scope, reporter: Reporter): ArgumentValue | undefined {
  return evaluate(expression, scope, reporter, true);
}

/** A number, reporting `what` when the expression is not one. */
export function evaluateNumber(expression: Expression, scope: Scope, reporter: Reporter, what: string): number | undefined {
  const value = evaluate(expression, scope, reporter, false);
  if (typeof value === 'number') return value;
  if (!isRecovered(expression) && !(value === undefined && mentionsUnknownName(expression, scope))) {
    reporter.report(diagnosticMessages.notConstant, expression.span, { what });
  }
  return undefined;
}


/** An integer range `from..to` (half-open). */
export function evaluateRange(range: RangeExpression, scope: Scope, reporter: Reporter, what: string): { from: number; to: number } | undefined {
  const from = evaluateNumber(range.from, scope, reporter, `the start of ${what}`);
  const to = evaluateNumber(range.to, scope, reporter, `the end of ${what}`);
  if (from === undefined || to === undefined) return undefined;
  for (const [value, expression, end] of [[from, range.from, 'start'], [to, range.to, 'end']] as const) {
    if (!Number.isInteger(value)) {
      reporter.report(diagnosticMessages.notConstant, expression.span, { what: `the ${end} of ${what} (a whole number, not ${value})` });
      return undefined;
    }
  }
  if (to - from > MAX_RANGE_ELEMENTS) {
    reporter.report(diagnosticMessages.tooLarge, range.span, { what: `the range ${from}..${to}`, count: to - from, limit: MAX_RANGE_ELEMENTS });
    return undefined;
  }
  return { from, to };
}

/** A dim: a fixed size, or the name of a symbolic dim. */
export function evaluateDim(expression: Expression, scope: Scope, reporter: Reporter): number | string | undefined {
  if (expression.kind === 'NameExpression') {
    const bound = scope.get(expression.name.name);
    if (typeof bound === 'string') return bound;
  }
  return evaluateNumber(expression, scope, reporter, 'a dimension');
}

function isRecovered(expression: Expression): boolean {
  return expression.kind === 'NameExpression' && expression.name.name === '';
}

/** True when the expression names something out of scope (already reported, so no second error). */
function mentionsUnknownName(expression: Expression, scope: Scope): boolean {
  switch (expression.kind) {
    case 'NameExpression':
      return expression.name.name === '' || !scope.has(expression.name.name);
    case 'ParenthesizedExpression':
      return mentionsUnknownName(expression.expression, scope);
    case 'UnaryExpression':
      return mentionsUnknownName(expression.operand, scope);
    case 'BinaryExpression':
      return mentionsUnknownName(expression.left, scope) || mentionsUnknownName(expression.right, scope);
    case 'CallExpression':
      return expression.args.some((arg) => mentionsUnknownName(arg.value, scope));
    default:
      return false;
  }
}
