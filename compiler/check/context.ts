// What every rule shares: the diagnostics being collected. Rules never throw
// on user mistakes; they report and carry on with what they could resolve.

import { makeDiagnostic } from '../../grammar/diagnostic.ts';
import type { Diagnostic, MessageDefinition, RelatedSpan } from '../../grammar/diagnostic.ts';
import type { Span } from '../../grammar/source.ts';

export interface Reporter {
  readonly diagnostics: Diagnostic[];
  report(
    definition: MessageDefinition,
    span: Span,
    args?: Readonly<Record<string, string | number>>,
    extra?: { readonly hint?: string; readonly related?: readonly RelatedSpan[] },
  ): void;
}

export function createReporter(): Reporter {
  const diagnostics: Diagnostic[] = [];
  // A repeat block checks its body once per index; the same mistake is reported once.
  const seen = new Set<string>();
  return {
    diagnostics,
    report(definition, span, args = {}, extra = {}) {
      const diagnostic = makeDiagnostic(definition, span, args, extra);
      const key = `${diagnostic.code}|${span.file}|${span.start}|${span.end}|${diagnostic.message}`;
      if (seen.has(key)) return;
      seen.add(key);
      diagnostics.push(diagnostic);
    },
  };
}
