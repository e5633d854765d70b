// Folding: every block that spans lines (declarations, repeat and residual
// blocks, stages, a schedule's device bodies, loops and branches) and every
// run of comments, from the parsed document, so it follows the braces the
// parser matched rather than the indentation.

import { FoldingRangeKind, type FoldingRange } from 'vscode-languageserver';
import { compiledDocument, visit, type Node } from '../compiler/index.ts';
import type { Analysis, Workspace } from './workspace.ts';

const BLOCKS: ReadonlySet<Node['kind']> = new Set([
  'ModelDeclaration', 'ClusterDeclaration', 'PipelineDeclaration', 'ScheduleDeclaration', 'RepeatBlock', 'ResidualBlock',
  'StagesBlock', 'OnDeviceBlock', 'ForStatement', 'IfStatement', 'OverlapStatement',
]);

export function foldingRanges(workspace: Workspace, analysis: Analysis): FoldingRange[] {
  const document = compiledDocument(analysis.compilation);
  if (document === undefined) return [];
  const line = (offset: number) => workspace.positionOf(analysis.file, offset).line;
  const ranges: FoldingRange[] = [];
  visit(document, {
    enter(node) {
      if (node.kind === 'Comment') return false;
      if (!BLOCKS.has(node.kind)) return undefined;
      const [start, end] = [line(node.span.start), line(node.span.end)];
      if (end > start) ranges.push({ startLine: start, endLine: end });
      return undefined;
    },
  });
  // Comments on consecutive lines fold together.
  let run: { startLine: number; endLine: number } | undefined;
  for (const comment of document.comments) {
    const [start, end] = [line(comment.span.start), line(Math.max(comment.span.start, comment.span.end - 1))];
    if (run !== undefined && start === run.endLine + 1) run.endLine = end;
    else {
      if (run !== undefined && run.endLine > run.startLine) ranges.push({ ...run, kind: FoldingRangeKind.Comment });
      run = { startLine: start, endLine: end };
    }
  }
  if (run !== undefined && run.endLine > run.startLine) ranges.push({ ...run, kind: FoldingRangeKind.Comment });
  return ranges;
}
