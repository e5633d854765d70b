// Evaluation of schedule expressions: integer arithmetic over the pipeline
// shape (p, m, v, n), the device d, parameters, lets and loop variables.
// `/` is exact division (so `m / p` must divide evenly where a whole number
// is needed; write floor(m / p) otherwise); `%` is the floored remainder
// (never negative for a positive divisor), so `(d - 1) % p` wraps.
// Errors are diagnostics at the offending expression, never exceptions; an
// evaluation that fails returns undefined and the caller stops using it.

import { makeDiagnostic, type Diagnostic } from '../../grammar/diagnostic.ts';
import type { Expression, RangeExpression } from '../../grammar/ast.ts';
import { scheduleMessages } from '../messages/schedules.ts';

export type Value = number | boolean;

/** Variables in scope: a chain of frames so loops bind cheaply. */
export class Scope {
  private readonly values = new Map<string, Value>();
  private readonly parent: Scope | undefined;

  constructor(parent?: Scope) {
    this.parent = parent;
  }

  get(name: string): Value | undefined {
    const own = this.values.get(name);
    if (own !== undefined) return own;
    return this.parent?.get(name);
  }

  set(name: string, value: Value): void {
    this.values.set(name, value);
  }
}

const FUNCTIONS: Readonly<Record<string, { readonly arity: number | 'variadic'; readonly apply: (args: number[]) => number }>> = {
  min: { arity: 'variadic', apply: (args) => Math.min(...args) },
  max: { arity: 'variadic', apply: (args) => Math.max(...args) },
  floor: { arity: 1, apply: ([x]) => Math.floor(x) },
  ceil: { arity: 1, apply: ([x]) => Math.ceil(x) },
  abs: { arity: 1, apply: ([x]) => Math.abs(x) },
};

export class ExpressionEvaluator {
  readonly diagnostics: Diagnostic[];
  private readonly sourceText: ((start: number, end: number) => string) | undefined;

  constructor(diagnostics: Diagnostic[], sourceText?: (start: number, end: number) => string) {
    this.diagnostics = diagnostics;
    this.sourceText = sourceText;
  }

  evaluate(expression: Expression, scope: Scope): Value | undefined {
    switch (expression.kind) {
      case 'NumberLiteral':
        return expression.value;
      case 'BooleanLiteral':
        return expression.value;
      case 'ParenthesizedExpression':
        return this.evaluate(expression.expression, scope);
      case 'NameExpression': {
        const value = scope.get(expression.name.name);
        if (value === undefined) {
          this.diagnostics.push(makeDiagnostic(scheduleMessages.unknownName, expression.span, { name: expression.name.name }));
        }
        return value;
      }
      case 'UnaryExpression': {
        const operand = this.evaluate(expression.operand, scope);
        if (operand === undefined) return undefined;
        if (expression.operator === '!') return !truthy(operand);
        const number = this.number(operand, expression.operand);
        return number === undefined ? undefined : -number;
      }
      case 'BinaryExpression':
        return this.binary(expression, scope);
      case 'CallExpression': {
        const fn = FUNCTIONS[expression.callee.name];
        if (!fn) {
          this.diagnostics.push(
            makeDiagnostic(scheduleMessages.unknownFunction, expression.callee.span, { name: expression.callee.name, known: Object.keys(FUNCTIONS).join(', ') }),
          );
          return undefined;
        }
        const count = expression.args.length;
        if (fn.arity === 'variadic' ? count === 0 : count !== fn.arity) {
          this.diagnostics.push(
            makeDiagnostic(scheduleMessages.wrongArgumentCount, expression.span, { name: expression.callee.name, expected: fn.arity === 'variadic' ? 'at least 1' : fn.arity, actual: count }),
          );
          return undefined;
        }
        const values: number[] = [];
        for (const arg of expression.args) {
          const value = this.evaluate(arg.value, scope);
          if (value === undefined) return undefined;
          const number = this.number(value, arg.value);
          if (number === undefined) return undefined;
          values.push(number);
        }
        return fn.apply(values);
      }
      case 'QuantityLiteral':
      case 'StringLiteral':
        this.diagnostics.push(makeDiagnostic(scheduleMessages.notAnInteger, expression.span, { expression: this.text(expression), value: expression.kind === 'StringLiteral' ? 'a string' : 'a quantity', what: 'a schedule value' }));
        return undefined;
    }
  }

  /** A whole number, or a diagnostic naming `what` it was for. */
  integer(expression: Expression, scope: Scope, what: string): number | undefined {
    const value = this.evaluate(expression, scope);
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.diagnostics.push(makeDiagnostic(scheduleMessages.notAnInteger, expression.span, { expression: this.text(expression), value: String(value), what }));
      return undefined;
    }
    return value;
  }

  /** A half-open range as [from, to); a backwards range is a diagnostic (an empty one, from == to, is fine). */
  range(range: RangeExpression, scope: Scope): [number, number] | undefined {
    const from = this.integer(range.from, scope, 'a range bound');
    const to = this.integer(range.to, scope, 'a range bound');
    if (from === undefined || to === undefined) return undefined;
    if (to < from) {
      this.diagnostics.push(makeDiagnostic(scheduleMessages.negativeRange, range.span, { from, to }));
      return undefined;
    }
    return [from, to];
  }

  condition(expression: Expression, scope: Scope): boolean | undefined {
    const value = this.evaluate(expression, scope);
    return value === undefined ? undefined : truthy(value);
  }

  private binary(expression: Expression & { kind: 'BinaryExpression' }, scope: Scope): Value | undefined {
    const { operator } = expression;
    if (operator === '&&' || operator === '||') {
      const left = this.evaluate(expression.left, scope);
      if (left === undefined) return undefined;
      if (operator === '&&' && !truthy(left)) return false;
      if (operator === '||' && truthy(left)) return true;
      const right = this.evaluate(expression.right, scope);
      return right === undefined ? undefined : truthy(right);
    }
    const leftValue = this.evaluate(expression.left, scope);
    const rightValue = this.evaluate(expression.right, scope);
    if (leftValue === undefined || rightValue === undefined) return undefined;
    if (operator === '==') return leftValue === rightValue;
    if (operator === '!=') return leftValue !== rightValue;
    const left = this.number(leftValue, expression.left);
    const right = this.number(rightValue, expression.right);
    if (left === undefined || right === undefined) return undefined;
    switch (operator) {
      case '+': return left + right;
      case '-': return left - right;
      case '*': return left * right;
      case '/':
      case '%':
        if (right === 0) {
          this.diagnostics.push(makeDiagnostic(scheduleMessages.divisionByZero, expression.span, { expression: this.text(expression) }));
          return undefined;
        }
        return operator === '/' ? left / right : left - right * Math.floor(left / right);
      case '<': return left < right;
      case '<=': return left <= right;
      case '>': return left > right;
      case '>=': return left >= right;
    }
  }

  private number(value: Value, expression: Expression): number | undefined {
    if (typeof value === 'number') return value;
    this.diagnostics.push(makeDiagnostic(scheduleMessages.notAnInteger, expression.span, { expression: this.text(expression), value: String(value), what: 'a number' }));
    return undefined;
  }

  private text(expression: Expression): string {
    return this.sourceText?.(expression.span.start, expression.span.end) ?? expression.kind;
  }
}

export function truthy(value: Value): boolean {
  return typeof value === 'boolean' ? value : value !== 0;
}
