// Diagnostics are data. Every phase returns them next to its value; only the
// edge (CLI, language server) renders them. Every code is defined once, in
// grammar/diagnosticMessages.ts; makeDiagnostic is the one way to build one.

import type { Span } from './source.ts';
import { formatTemplate, type MessageArguments, type MessageDefinition, type Severity } from './diagnosticMessages.ts';

export type { MessageArguments, MessageDefinition, MessageName, Severity } from './diagnosticMessages.ts';
export { formatTemplate } from './diagnosticMessages.ts';

export interface RelatedSpan {
  readonly span: Span;
  readonly message: string;
}

/**
 * A fix as data: `replacement` replaces the text at `span`. A "did you
 * mean" hint carries one, so an editor offers it as a quick fix without
 * reading the hint's words.
 */
export interface Suggestion {
  readonly span: Span;
  readonly replacement: string;
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
  /** The edit the hint proposes, when it names one ("did you mean 'Dense'?"). */
  readonly suggestion?: Suggestion;
  readonly related: readonly RelatedSpan[];
}

/** What a call site may add: a hint more specific than the table's, the fix it proposes, related locations. */
export interface DiagnosticExtras {
  readonly hint?: string;
  readonly suggestion?: Suggestion;
  readonly related?: readonly RelatedSpan[];
}

/**
 * A diagnostic from its table entry (`diagnosticMessages.unknownModel`), the
 * values of the entry's {placeholders}, where it is, and optionally a hint
 * (replacing the entry's default) and related locations.
 */
export function makeDiagnostic<Definition extends MessageDefinition>(
  definition: Definition,
  span: Span,
  args: MessageArguments<Definition> = {} as MessageArguments<Definition>,
  extra: DiagnosticExtras = {},
): Diagnostic {
  const values = args as Readonly<Record<string, string | number>>;
  const hint = extra.hint ?? (definition.hint === undefined ? undefined : formatTemplate(definition.hint, values));
  return {
    code: definition.code,
    severity: definition.severity,
    message: formatTemplate(definition.template, values),
    span,
    ...(hint === undefined ? {} : { hint }),
    ...(extra.suggestion === undefined ? {} : { suggestion: extra.suggestion }),
    related: extra.related ?? [],
  };
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
