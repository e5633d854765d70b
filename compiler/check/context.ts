// What every rule shares: the diagnostics being collected. Rules never throw
// on user mistakes; they report and carry on with what they could resolve.

import { makeDiagnostic } from '../../grammar/diagnostic.ts';
import type { Diagnostic, DiagnosticExtras, MessageArguments, MessageDefinition } from '../../grammar/diagnostic.ts';
import type { Span } from '../../grammar/source.ts';
import type { PipelineDeclaration, PipelineMember } from '../../grammar/ast.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export interface Reporter {
  readonly diagnostics: Diagnostic[];
  report<Definition extends MessageDefinition>(definition: Definition, span: Span, args?: MessageArguments<Definition>, extra?: DiagnosticExtras): void;
}

export function createReporter(): Reporter {
  const diagnostics: Diagnostic[] = [];
  // A repeat block checks its body once per index; the same mistake is reported once.
  const seen = new Set<string>();
  return {
    diagnostics,
    report(definition, span, args, extra) {
      const diagnostic = makeDiagnostic(definition, span, args, extra);
      const key = `${diagnostic.code}|${span.file}|${span.start}|${span.end}|${diagnostic.message}`;
      if (seen.has(key)) return;
      seen.add(key);
      diagnostics.push(diagnostic);
    },
  };
}

/**
 * A pipeline member that must be given exactly once (`stages`, `schedule`):
 * reports it missing (with a hint) or every repeat (pointing at the first),
 * and returns the first, which the rules go on checking.
 */
export function exactlyOneMember<Member extends PipelineMember>(
  pipeline: PipelineDeclaration,
  isMember: (member: PipelineMember) => member is Member,
  setting: string,
  hint: string,
  reporter: Reporter,
): Member | undefined {
  const members = pipeline.members.filter(isMember);
  if (members.length === 0) {
    reporter.report(diagnosticMessages.missingSetting, pipeline.name.span, { name: pipeline.name.name, setting }, { hint });
    return undefined;
  }
  for (const extra of members.slice(1)) {
    reporter.report(diagnosticMessages.duplicateSetting, extra.span, { name: setting }, {
      related: [{ span: members[0].span, message: 'first given here' }],
    });
  }
  return members[0];
}
