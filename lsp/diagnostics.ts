// The compiler's diagnostics as an editor shows them (squiggles with the
// hint, related spans as related information), and the quick fixes their
// suggestions carry: every "did you mean" hint is data on the diagnostic
// (`suggestion`), so the fix is applied as an edit, never read from words.

import {
  CodeActionKind, DiagnosticSeverity, type CodeAction, type Diagnostic as LspDiagnostic, type Range,
} from 'vscode-languageserver';
import { compiledDocument, type Diagnostic, type Severity } from '../compiler/index.ts';
import type { Analysis, Workspace } from './workspace.ts';

const SEVERITIES: Readonly<Record<Severity, DiagnosticSeverity>> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
};

/** The diagnostics located in the analysed file, as the editor's. */
export function editorDiagnostics(workspace: Workspace, analysis: Analysis): LspDiagnostic[] {
  const { compilation, file } = analysis;
  const own = compilation.diagnostics.filter((diagnostic) => diagnostic.span.file === file);
  const diagnostics = [...own.map((diagnostic) => toEditorDiagnostic(workspace, analysis, diagnostic)), ...importedErrors(workspace, analysis)];
  // Why nothing was compiled when it is not the program's fault (an unreadable entry): at the top of the file.
  if (compilation.stop?.kind === 'usage') {
    diagnostics.push({ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, severity: DiagnosticSeverity.Error, source: 'pipec', message: compilation.stop.message });
  }
  return diagnostics;
}

/**
 * Errors in a file this one imports are shown where it is imported: one
 * diagnostic at the import's path, its errors as related locations (the
 * editor shows that file's own squiggles when it is open).
 */
function importedErrors(workspace: Workspace, analysis: Analysis): LspDiagnostic[] {
  const { compilation, file } = analysis;
  const sources = compilation.sources;
  const imports = compiledDocument(compilation)?.imports ?? [];
  const found: LspDiagnostic[] = [];
  for (const declaration of imports) {
    if (declaration.path.value === '' || declaration.path.value.startsWith('std:')) continue;
    const target = workspace.host.resolveImport(file, declaration.path.value);
    const errors = compilation.diagnostics.filter((diagnostic) => diagnostic.severity === 'error' && diagnostic.span.file === target);
    if (errors.length === 0) continue;
    const [first] = errors;
    const at = workspace.positionOf(target, first.span.start, sources);
    found.push({
      range: workspace.rangeOf(declaration.path.span, sources),
      severity: DiagnosticSeverity.Error,
      code: first.code,
      source: 'pipec',
      message: `${declaration.path.value}:${at.line + 1}:${at.character + 1}: ${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''} there)` : ''}`,
      relatedInformation: errors.slice(0, 20).map((error) => ({
        location: { uri: workspace.uriOf(target), range: workspace.rangeOf(error.span, sources) },
        message: error.message,
      })),
    });
  }
  return found;
}

function toEditorDiagnostic(workspace: Workspace, analysis: Analysis, diagnostic: Diagnostic): LspDiagnostic {
  const sources = analysis.compilation.sources;
  return {
    range: workspace.rangeOf(diagnostic.span, sources),
    severity: SEVERITIES[diagnostic.severity],
    code: diagnostic.code,
    source: 'pipec',
    message: diagnostic.hint === undefined ? diagnostic.message : `${diagnostic.message}\nhint: ${diagnostic.hint}`,
    ...(diagnostic.related.length === 0 ? {} : {
      relatedInformation: diagnostic.related.map((related) => ({
        location: { uri: workspace.uriOf(related.span.file), range: workspace.rangeOf(related.span, sources) },
        message: related.message,
      })),
    }),
    ...(diagnostic.suggestion === undefined ? {} : { data: { replacement: diagnostic.suggestion.replacement } }),
  };
}

/** A quick fix for every diagnostic with a suggestion that touches `range`. */
export function quickFixes(workspace: Workspace, analysis: Analysis, range: Range, shown: readonly LspDiagnostic[]): CodeAction[] {
  const { compilation, file, uri } = analysis;
  const sources = compilation.sources;
  const actions: CodeAction[] = [];
  for (const diagnostic of compilation.diagnostics) {
    const suggestion = diagnostic.suggestion;
    if (suggestion === undefined || diagnostic.span.file !== file || suggestion.span.file !== file) continue;
    const at = workspace.rangeOf(diagnostic.span, sources);
    if (!overlaps(at, range)) continue;
    const editorDiagnostic = shown.find((candidate) => candidate.code === diagnostic.code && sameRange(candidate.range, at)) ?? toEditorDiagnostic(workspace, analysis, diagnostic);
    actions.push({
      title: `Change to '${suggestion.replacement}'`,
      kind: CodeActionKind.QuickFix,
      isPreferred: true,
      diagnostics: [editorDiagnostic],
      edit: { changes: { [uri]: [{ range: workspace.rangeOf(suggestion.span, sources), newText: suggestion.replacement }] } },
    });
  }
  return actions;
}

function before(a: Range['start'], b: Range['start']): boolean {
  return a.line < b.line || (a.line === b.line && a.character < b.character);
}

function overlaps(a: Range, b: Range): boolean {
  return !before(a.end, b.start) && !before(b.end, a.start);
}

function sameRange(a: Range, b: Range): boolean {
  return a.start.line === b.start.line && a.start.character === b.start.character && a.end.line === b.end.line && a.end.character === b.end.character;
}
