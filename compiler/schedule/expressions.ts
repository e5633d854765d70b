// Schedule expressions are compiled once into closures over a slot array,
// then run many times (a schedule for 64 devices × 1024 microbatches runs its
// loop bodies a quarter of a million times). Names resolve at compile time:
// an unknown name is reported even in a branch that never runs.
//
// Semantics: integer arithmetic over the pipeline shape (p, m, v, n), the
// device d, parameters, lets and loop variables. `/` is exact division (so
// `m / p` must divide evenly where a whole number is needed; write
// floor(m / p) otherwise); `%` is the floored remainder (never negative for a
// positive divisor), so `(d - 1) % p` wraps. Comparisons give booleans.
//
// A mistake found while running (division by zero, a fraction where a
// microbatch is needed) stops evaluation with a diagnostic at the offending
// expression: the closure throws EvaluationStop, which evaluateSchedule
// catches — it never leaves this phase.

import { makeDiagnostic, type Diagnostic, type MessageDefinition } from '../../grammar/diagnostic.ts';
import type { Expression, RangeExpression } from '../../grammar/ast.ts';
import type { Span } from '../../grammar/source.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export type Value = number | boolean;
export type Slots = Value[];
export type Compiled = (slots: Slots) => Value;

/** Thrown inside compiled code after a diagnostic was recorded; caught by evaluateSchedule. */
export class EvaluationStop extends Error {
  readonly diagnostic: Diagnostic;
  constructor(diagnostic: Diagnostic) {
    super(diagnostic.message);
    this.diagnostic = diagnostic;
  }
}

function stop(message: MessageDefinition, span: Span, args: Readonly<Record<string, string | number>>): never {
  throw new EvaluationStop(makeDiagnostic(message, span, args));
}

/** Lexical symbols: name → slot, with block scoping by copying on entry. */
export class Symbols {
  private readonly names: Map<string, number>;
  private readonly counter: { next: number };

  constructor(names?: Map<string, number>, counter?: { next: number }) {
    this.names = names ?? new Map();
    this.counter = counter ?? { next: 0 };
  }

  /** A nested block: sees the outer names; its own definitions stay inside. */
  child(): Symbols {
    return new Symbols(new Map(this.names), this.counter);
  }

  define(name: string): number {
    const slot = this.counter.next++;
    this.names.set(name, slot);
    return slot;
  }

  lookup(name: string): number | undefined {
    return this.names.get(name);
  }

  get size(): number {
    return this.counter.next;
  }
}

const FUNCTIONS: Readonly<Record<string, { readonly arity: number | 'variadic'; readonly apply: (args: number[]) => number }>> = {
  min: { arity: 'variadic', apply: (args) => Math.min(...args) },
  max: { arity: 'variadic', apply: (args) => Math.max(...args) },
  floor: { arity: 1, apply: ([x]) => Math.floor(x) },
  ceil: { arity: 1, apply: ([x]) => Math.ceil(x) },
  abs: { arity: 1, apply: ([x]) => Math.abs(x) },
};

export class ExpressionCompiler {
  private readonly diagnostics: Diagnostic[];
  private readonly source: string | undefined;

  constructor(diagnostics: Diagnostic[], source?: string) {
    this.diagnostics = diagnostics;
    this.source = source;
  }
  /** Reports a problem found while compiling a statement around the expressions. */
  report(diagnostic: Diagnostic): void {
    this.diagnostics.push(diagnostic);
  }


  /** Text of an expression for messages. */
  text(expression: { readonly span: Span }): string {
    return this.source?.slice(expression.span.start, expression.span.end) ?? 'expression';
  }

  /** Undefined (with a diagnostic) when a name is unknown or a call is malformed. */
  compile(expression: Expression, symbols: Symbols): Compiled | undefined {
    switch (expression.kind) {
      case 'NumberLiteral': {
        const value = expression.value;
        return () => value;
      }
      case 'BooleanLiteral': {
        const value = expression.value;
        return () => value;
      }
      case 'ParenthesizedExpression':
        return this.compile(expression.expression, symbols);
      case 'NameExpression': {
        const slot = symbols.lookup(expression.name.name);
        if (slot === undefined) {
          this.diagnostics.push(makeDiagnostic(diagnosticMessages.unknownScheduleName, expression.span, { name: expression.name.name }));
          return undefined;
        }
        return (slots) => slots[slot];
      }
      case 'UnaryExpression': {
        const operand = this.compile(expression.operand, symbols);
        if (!operand) return undefined;
        if (expression.operator === '!') return (slots) => !truthy(operand(slots));
        const number = this.numeric(operand, expression.operand);
        return (slots) => -number(slots);
      }
      case 'BinaryExpression':
        return this.binary(expression, symbols);
      case 'CallExpression': {
        const fn = FUNCTIONS[expression.callee.name];
        if (!fn) {
          this.diagnostics.push(makeDiagnostic(diagnosticMessages.unknownFunction, expression.callee.span, { name: expression.callee.name, known: Object.keys(FUNCTIONS).join(', ') }));
          return undefined;
        }
        const count = expression.args.length;
        if (fn.arity === 'variadic' ? count === 0 : count !== fn.arity) {
          this.diagnostics.push(makeDiagnostic(diagnosticMessages.wrongArgumentCount, expression.span, { name: expression.callee.name, expected: fn.arity === 'variadic' ? 'at least 1' : fn.arity, actual: count }));
          return undefined;
        }
        const args: ((slots: Slots) => number)[] = [];
        for (const arg of expression.args) {
          const compiled = this.compile(arg.value, symbols);
          if (!compiled) return undefined;
          args.push(this.numeric(compiled, arg.value));
        }
        const name = expression.callee.name;
        if (name === 'floor') { const [a] = args; return (slots) => Math.floor(a(slots)); }
        if (name === 'min' && args.length === 2) { const [a, b] = args; return (slots) => Math.min(a(slots), b(slots)); }
        if (name === 'max' && args.length === 2) { const [a, b] = args; return (slots) => Math.max(a(slots), b(slots)); }
        return (slots) => fn.apply(args.map((arg) => arg(slots)));
      }
      case 'QuantityLiteral':
      case 'StringLiteral':
        this.diagnostics.push(makeDiagnostic(diagnosticMessages.notAnInteger, expression.span, { expression: this.text(expression), value: expression.kind === 'StringLiteral' ? 'a string' : 'a quantity', what: 'a schedule value' }));
        return undefined;
    }
  }

  /** A compiled expression that must produce a whole number (`what` names it in the message). */
  integer(expression: Expression, symbols: Symbols, what: string): ((slots: Slots) => number) | undefined {
    const compiled = this.compile(expression, symbols);
    if (!compiled) return undefined;
    const span = expression.span;
    const text = this.text(expression);
    return (slots) => {
      const value = compiled(slots);
      if (typeof value !== 'number' || !Number.isInteger(value)) stop(diagnosticMessages.notAnInteger, span, { expression: text, value: String(value), what });
      return value;
    };
  }

  /** A half-open range [from, to); backwards is an error, empty (from == to) is fine. */
  range(range: RangeExpression, symbols: Symbols): ((slots: Slots) => [number, number]) | undefined {
    const from = this.integer(range.from, symbols, 'a range bound');
    const to = this.integer(range.to, symbols, 'a range bound');
    if (!from || !to) return undefined;
    const span = range.span;
    return (slots) => {
      const a = from(slots);
      const b = to(slots);
      if (b < a) stop(diagnosticMessages.negativeRange, span, { from: a, to: b });
      return [a, b];
    };
  }

  private numeric(compiled: Compiled, expression: Expression): (slots: Slots) => number {
    const span = expression.span;
    const text = this.text(expression);
    return (slots) => {
      const value = compiled(slots);
      if (typeof value !== 'number') stop(diagnosticMessages.notAnInteger, span, { expression: text, value: String(value), what: 'a number' });
      return value;
    };
  }

  private binary(expression: Expression & { kind: 'BinaryExpression' }, symbols: Symbols): Compiled | undefined {
    const left = this.compile(expression.left, symbols);
    const right = this.compile(expression.right, symbols);
    if (!left || !right) return undefined;
    switch (expression.operator) {
      case '&&': return (slots) => truthy(left(slots)) && truthy(right(slots));
      case '||': return (slots) => truthy(left(slots)) || truthy(right(slots));
      case '==': return (slots) => left(slots) === right(slots);
      case '!=': return (slots) => left(slots) !== right(slots);
    }
    const a = this.numeric(left, expression.left);
    const b = this.numeric(right, expression.right);
    const span = expression.span;
    const text = this.text(expression);
    switch (expression.operator) {
      case '+': return (slots) => a(slots) + b(slots);
      case '-': return (slots) => a(slots) - b(slots);
      case '*': return (slots) => a(slots) * b(slots);
      case '/':
        return (slots) => {
          const divisor = b(slots);
          if (divisor === 0) stop(diagnosticMessages.divisionByZero, span, { expression: text });
          return a(slots) / divisor;
        };
      case '%':
        return (slots) => {
          const dividend = a(slots);
          const divisor = b(slots);
          if (divisor === 0) stop(diagnosticMessages.divisionByZero, span, { expression: text });
          return dividend - divisor * Math.floor(dividend / divisor);
        };
      case '<': return (slots) => a(slots) < b(slots);
      case '<=': return (slots) => a(slots) <= b(slots);
      case '>': return (slots) => a(slots) > b(slots);
      case '>=': return (slots) => a(slots) >= b(slots);
    }
  }
}

export function truthy(value: Value): boolean {
  return typeof value === 'boolean' ? value : value !== 0;
}
