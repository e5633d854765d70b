// Diagnostics are data. Every phase returns them next to its value; only the
// edge (CLI, language server) renders them. Codes come from one table per
// range: 1xxx syntax (grammar/messages.ts), 2xxx names and types, 3xxx
// placement, 4xxx schedules, 5xxx lowering and memory (compiler/messages/*),
// 6xxx runtime (runtime/messages.ts).

import type { Span } from './source.ts';

export type Severity = 'error' | 'warning' | 'info';

export interface RelatedSpan {
  readonly span: Span;
  readonly message: string;
}

export interface Diagnostic {
  /** e.g. 'PIPE2003' */
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  /** Where the problem is. Always inside a real source (never synthetic). */
  readonly span: Span;
  /** How to fix it, when we can say. */
  readonly hint?: string;
  readonly related: readonly RelatedSpan[];
}

/** One entry of a message table. `template` uses {name} placeholders. */
export interface MessageDefinition {
  readonly code: string;
  readonly severity: Severity;
  readonly template: string;
  /** One-line description for docs/diagnostics.md. */
  readonly summary: string;
}

export function formatTemplate(template: string, args: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    Object.hasOwn(args, key) ? String(args[key]) : whole,
  );
}

export function makeDiagnostic(
  definition: MessageDefinition,
  span: Span,
  args: Readonly<Record<string, string | number>> = {},
  extra: { readonly hint?: string; readonly related?: readonly RelatedSpan[] } = {},
): Diagnostic {
  return {
    code: definition.code,
    severity: definition.severity,
    message: formatTemplate(definition.template, args),
    span,
    ...(extra.hint === undefined ? {} : { hint: extra.hint }),
    related: extra.related ?? [],
  };
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
