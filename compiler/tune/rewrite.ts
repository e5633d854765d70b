// Rewriting a pipeline declaration's AST: another schedule, another split
// into stages, another microbatch count. The new nodes take the spans of the
// members they replace, so a diagnostic about them points at the user's own
// line. Used by withSchedule / withStages (compiler/compilation.ts).

import type * as ast from '../../grammar/ast.ts';
import type { Span } from '../../grammar/source.ts';
import type { RegularPlacementKind } from '../placement.ts';

export interface TuneConfiguration {
  readonly stages: number;
  readonly stagesPerDevice: number;
  readonly placement: RegularPlacementKind;
  readonly microbatches: number;
  /** As written in the program: `1f1b`, `auto(memory: 2 * activations(1f1b))`. */
  readonly schedule: string;
}

function identifier(name: string, span: Span): ast.Identifier {
  return { kind: 'Identifier', name, span };
}

function numberLiteral(value: number, span: Span): ast.NumberLiteral {
  return { kind: 'NumberLiteral', value, text: String(value), span };
}

/** `auto(memory: K * activations(1f1b))` or a plain name, as a ScheduleUse. */
function scheduleUse(text: string, span: Span): ast.ScheduleUse {
  const auto = /^auto\(memory: ([\d.]+) \* activations\((\w+)\)\)$/.exec(text);
  if (!auto) return { kind: 'ScheduleUse', name: identifier(text, span), args: [], span };
  const factor = Number(auto[1]);
  const value: ast.BinaryExpression = {
    kind: 'BinaryExpression',
    operator: '*',
    left: numberLiteral(factor, span),
    right: {
      kind: 'CallExpression',
      callee: identifier('activations', span),
      args: [{ kind: 'Argument', value: { kind: 'NameExpression', name: identifier(auto[2], span), span }, span }],
      span,
    },
    span,
  };
  return { kind: 'ScheduleUse', name: identifier('auto', span), args: [{ kind: 'Argument', name: identifier('memory', span), value, span }], span };
}

/** The document with only the pipeline's schedule replaced (`pipec show --compare`). */
export function rewriteSchedule(document: ast.Document, pipeline: ast.PipelineDeclaration, schedule: string): ast.Document {
  let replaced = false;
  const members = pipeline.members.map((member) => {
    if (member.kind !== 'ScheduleUse' || replaced) return member;
    replaced = true;
    return scheduleUse(schedule, member.span);
  });
  if (!replaced) members.push(scheduleUse(schedule, { file: pipeline.span.file, start: pipeline.span.end, end: pipeline.span.end }));
  const rewritten: ast.PipelineDeclaration = { ...pipeline, members };
  return { ...document, declarations: document.declarations.map((declaration) => (declaration === pipeline ? rewritten : declaration)) };
}

/** The pipeline declaration named `name` (or the first) in a document. */
export function findPipeline(document: ast.Document, name?: string): ast.PipelineDeclaration | undefined {
  return document.declarations.find(
    (declaration): declaration is ast.PipelineDeclaration =>
      declaration.kind === 'PipelineDeclaration' && (name === undefined || declaration.name.name === name),
  );
}

/** The document with the pipeline's microbatches, stages and schedule replaced. */
export function rewriteDocument(document: ast.Document, pipeline: ast.PipelineDeclaration, configuration: TuneConfiguration): ast.Document {
  const members: ast.PipelineMember[] = [];
  let stagesDone = false;
  let microbatchesDone = false;
  let scheduleDone = false;
  for (const member of pipeline.members) {
    if (member.kind === 'StagesBlock' || member.kind === 'AutoStages') {
      if (stagesDone) continue;
      stagesDone = true;
      const span = member.span;
      members.push({
        kind: 'AutoStages',
        count: numberLiteral(configuration.stages, span),
        balance: identifier('compute', span),
        ...(configuration.stagesPerDevice > 1 ? { placement: identifier(configuration.placement, span) } : {}),
        span,
      });
    } else if (member.kind === 'ScheduleUse') {
      if (scheduleDone) continue;
      scheduleDone = true;
      members.push(scheduleUse(configuration.schedule, member.span));
    } else if (member.kind === 'PipelineSetting' && member.key.name === 'microbatches') {
      microbatchesDone = true;
      members.push({ ...member, value: numberLiteral(configuration.microbatches, member.value.span) });
    } else if (member.kind === 'StageAttribute') {
      // recompute / offload name stages of the old split; the new split has other stages.
      continue;
    } else {
      members.push(member);
    }
  }
  const end: Span = { file: pipeline.span.file, start: pipeline.span.end, end: pipeline.span.end };
  if (!microbatchesDone) members.unshift({ kind: 'PipelineSetting', key: identifier('microbatches', end), value: numberLiteral(configuration.microbatches, end), span: end });
  if (!scheduleDone) members.push(scheduleUse(configuration.schedule, end));
  const rewritten: ast.PipelineDeclaration = { ...pipeline, members };
  return { ...document, declarations: document.declarations.map((declaration) => (declaration === pipeline ? rewritten : declaration)) };
}
