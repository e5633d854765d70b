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
  return {
    diagnostics,
    report(definition, span, args = {}, extra = {}) {
      diagnostics.push(makeDiagnostic(definition, span, args, extra));
    },
  };
}
