// Checks a call's arguments against a schema: unknown and duplicate names
// (with did-you-mean), missing required ones, types and ranges. Positional
// arguments bind in schema order. Used for layers, extern layers, optimizers
// and data sources alike.

import type { Argument } from '../../grammar/ast.ts';
import type { Span } from '../../grammar/source.ts';
import type { ArgumentSchema } from '../layers/catalog.ts';
import type { ArgumentValue } from '../program.ts';
import type { Reporter } from './context.ts';
import { evaluateArgument } from './evaluate.ts';
import type { Scope } from './evaluate.ts';
import type { DiagnosticExtras } from '../../grammar/diagnostic.ts';
import { suggestName } from './suggest.ts';
import { MAX_INTEGER_ARGUMENT } from '../limits.ts';
import { diagnosticMessages, type MessageDefinition } from '../../grammar/diagnosticMessages.ts';

export interface CheckedArguments {
  readonly values: Readonly<Record<string, ArgumentValue>>;
  /** False when some argument was wrong (values then holds only the good ones). */
  readonly ok: boolean;
}

export function checkArguments(
  callee: string,
  calleeSpan: Span,
  args: readonly Argument[],
  schema: readonly ArgumentSchema[],
  scope: Scope,
  reporter: Reporter,
): CheckedArguments {
  const values: Record<string, ArgumentValue> = {};
  const seen = new Map<string, Span>();
  let ok = true;
  let position = 0;
  for (const argument of args) {
    let parameter: ArgumentSchema | undefined;
    if (argument.name !== undefined) {
      const name = argument.name.name;
      if (name === '') { ok = false; continue; }
      parameter = schema.find((candidate) => candidate.name === name);
      if (parameter === undefined) {
        ok = false;
        reporter.report(diagnosticMessages.unknownArgument, argument.name.span, { callee, name }, {
          ...suggestName(name, schema.map((candidate) => candidate.name), argument.name.span, { otherwise: schema.length === 0 ? `${callee} takes no arguments` : undefined }),
        });
        continue;
      }
    } else {
      parameter = schema[position];
      position++;
      if (parameter === undefined) {
        ok = false;
        reporter.report(diagnosticMessages.unknownArgument, argument.span, { callee, name: `#${position}` }, {
          hint: schema.length === 0 ? `${callee} takes no arguments` : `${callee} takes ${schema.length} argument(s): ${schema.map((s) => s.name).join(', ')}`,
        });
        continue;
      }
    }
    const previous = seen.get(parameter.name);
    if (previous !== undefined) {
      ok = false;
      reporter.report(diagnosticMessages.duplicateArgument, argument.span, { name: parameter.name }, {
        related: [{ span: previous, message: 'first given here' }],
      });
      continue;
    }
    seen.set(parameter.name, argument.span);
    const value = evaluateArgument(argument.value, scope, reporter);
    if (value === undefined) { ok = false; continue; }
    const problem = checkValue(parameter, value, argument.value.span);
    if (problem !== undefined) {
      ok = false;
      reporter.report(problem.definition, argument.value.span, { callee, name: parameter.name, ...problem.args }, problem.extras);
      continue;
    }
    values[parameter.name] = value;
  }
  for (const parameter of schema) {
    if (parameter.required && !seen.has(parameter.name)) {
      ok = false;
      reporter.report(diagnosticMessages.missingArgument, calleeSpan, { callee, name: parameter.name }, {
        hint: `add ${parameter.name}: <${describeType(parameter)}> (${parameter.description})`,
      });
    }
  }
  return { values, ok };
}

function describeType(parameter: ArgumentSchema): string {
  if (parameter.type === 'enum') return (parameter.values ?? []).join(' | ');
  return parameter.type;
}

function describeValue(value: ArgumentValue): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'a result that is not a number' : 'a value too large to represent';
  return String(value);
}

function checkValue(
  parameter: ArgumentSchema,
  value: ArgumentValue,
  span: Span,
): { definition: MessageDefinition; args: Record<string, string>; extras?: DiagnosticExtras } | undefined {
  const typeError = (expected: string) => ({
    definition: diagnosticMessages.argumentType,
    args: { expected, actual: describeValue(value) },
  });
  switch (parameter.type) {
    case 'string':
      if (typeof value !== 'string') return typeError('a string');
      return undefined;
    case 'bool':
      if (typeof value !== 'boolean') return typeError('true or false');
      return undefined;
    case 'enum':
      if (typeof value !== 'string' || !(parameter.values ?? []).includes(value)) {
        const options = parameter.values ?? [];
        return {
          ...typeError(`one of ${options.join(', ')}`),
          extras: typeof value === 'string' ? suggestName(value, options, span) : undefined,
        };
      }
      return undefined;
    case 'int':
      if (typeof value === 'number' && (!Number.isFinite(value) || Math.abs(value) > MAX_INTEGER_ARGUMENT)) {
        return { definition: diagnosticMessages.argumentRange, args: { bound: `at most ${MAX_INTEGER_ARGUMENT} (2^31 - 1)`, actual: describeValue(value) } };
      }
      if (typeof value !== 'number' || !Number.isInteger(value)) return typeError('an integer');
      return checkRange(parameter, value);
    case 'layer':
      // A layer reference is resolved against the model by its checker (compiler/check/model.ts), which reports it at this span.
      return undefined;
    case 'float':
      if (typeof value !== 'number') return typeError('a number');
      if (!Number.isFinite(value)) return { definition: diagnosticMessages.argumentRange, args: { bound: 'a finite number', actual: describeValue(value) } };
      return checkRange(parameter, value);
  }
}

function checkRange(parameter: ArgumentSchema, value: number) {
  const belowMin = parameter.min !== undefined && (parameter.minExclusive ? value <= parameter.min : value < parameter.min);
  const aboveMax = parameter.max !== undefined && (parameter.maxExclusive ? value >= parameter.max : value > parameter.max);
  if (!belowMin && !aboveMax) return undefined;
  return { definition: diagnosticMessages.argumentRange, args: { bound: describeBound(parameter), actual: String(value) } };
}

export function describeBound(parameter: ArgumentSchema): string {
  const { min, max } = parameter;
  if (min !== undefined && max !== undefined) {
    return `in ${parameter.minExclusive ? '(' : '['}${min}, ${max}${parameter.maxExclusive ? ')' : ']'}`;
  }
  if (min !== undefined) return parameter.minExclusive ? `> ${min}` : `>= ${min}`;
  if (max !== undefined) return parameter.maxExclusive ? `< ${max}` : `<= ${max}`;
  return 'any number';
}
