// Rendering diagnostics, for the edges (CLI, scripts, docs, tests):
// `file:line:col: error PIPE2003: message`, a code frame (@babel/code-frame),
// the hint and related locations; or JSON for tools. Spans are offsets until
// here; line and column (1-based, UTF-16 code units) are computed only now.
// Host-free, so a browser playground renders the same text.

import { codeFrameColumns } from '@babel/code-frame';
import pc from 'picocolors';
import type { Diagnostic } from './diagnostic.ts';
import { LineMap, type Span } from './source.ts';

// @babel/code-frame's columns are 1-based and its end column is exclusive (types: babel-code-frame.d.ts).
interface CodeFrameLocation {
  readonly start: { readonly line: number; readonly column: number };
  readonly end?: { readonly line: number; readonly column: number };
}


export interface RenderOptions {
  readonly color: boolean;
  readonly format: 'text' | 'json';
  /** Text only: at most this many errors are shown, then how many more there were (default 20). */
  readonly maxErrors?: number;
}

export const DEFAULT_MAX_ERRORS = 20;

export interface JsonLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
}

export interface JsonDiagnostic extends JsonLocation {
  readonly code: string;
  readonly severity: Diagnostic['severity'];
  readonly message: string;
  readonly hint?: string;
  /** The edit the hint proposes: `replacement` replaces the text at this location. */
  readonly suggestion?: JsonLocation & { readonly replacement: string };
  readonly related: readonly (JsonLocation & { readonly message: string })[];
}

/** Locates spans, caching one LineMap per file. */
class Locator {
  private readonly maps = new Map<string, LineMap>();
  private readonly sources: ReadonlyMap<string, string>;

  constructor(sources: ReadonlyMap<string, string>) {
    this.sources = sources;
  }

  text(file: string): string | undefined {
    return this.sources.get(file);
  }

  locate(span: Span): JsonLocation {
    const text = this.sources.get(span.file);
    if (text === undefined) return { file: span.file, line: 1, column: 1, endLine: 1, endColumn: 1 };
    let map = this.maps.get(span.file);
    if (map === undefined) this.maps.set(span.file, (map = new LineMap(text)));
    const clamp = (offset: number) => Math.max(0, Math.min(offset, text.length));
    const start = map.locate(clamp(span.start));
    const end = map.locate(clamp(Math.max(span.start, span.end)));
    return { file: span.file, line: start.line, column: start.column, endLine: end.line, endColumn: end.column };
  }
}

export function toJsonDiagnostics(diagnostics: readonly Diagnostic[], sources: ReadonlyMap<string, string>): JsonDiagnostic[] {
  const locator = new Locator(sources);
  return diagnostics.map((diagnostic) => ({
    ...locator.locate(diagnostic.span),
    code: diagnostic.code,
    severity: diagnostic.severity,
    message: diagnostic.message,
    ...(diagnostic.hint === undefined ? {} : { hint: diagnostic.hint }),
    ...(diagnostic.suggestion === undefined ? {} : { suggestion: { ...locator.locate(diagnostic.suggestion.span), replacement: diagnostic.suggestion.replacement } }),
    related: diagnostic.related.map((related) => ({ ...locator.locate(related.span), message: related.message })),
  }));
}

/** Sorted by file, then position, so output is stable whatever order the rules ran in. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort((a, b) =>
    a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : a.span.start - b.span.start || a.span.end - b.span.end);
}

export function renderDiagnostics(
  diagnostics: readonly Diagnostic[],
  sources: ReadonlyMap<string, string>,
  options: RenderOptions,
): string {
  const sorted = sortDiagnostics(diagnostics);
  if (options.format === 'json') return `${JSON.stringify(toJsonDiagnostics(sorted, sources), null, 2)}\n`;
  const colors = pc.createColors(options.color);
  const locator = new Locator(sources);
  const maxErrors = options.maxErrors ?? DEFAULT_MAX_ERRORS;
  let errorsShown = 0;
  let errorsHidden = 0;
  const shown = sorted.filter((diagnostic) => {
    if (diagnostic.severity !== 'error') return true;
    if (errorsShown < maxErrors) {
      errorsShown++;
      return true;
    }
    errorsHidden++;
    return false;
  });
  const blocks: string[] = [];
  shown.forEach((diagnostic, index) => {
    const where = locator.locate(diagnostic.span);
    const severity = diagnostic.severity === 'error'
      ? colors.red(colors.bold('error'))
      : diagnostic.severity === 'warning' ? colors.yellow(colors.bold('warning')) : colors.cyan('info');
    const lines = [
      `${colors.bold(`${where.file}:${where.line}:${where.column}`)}: ${severity} ${colors.dim(diagnostic.code)}: ${diagnostic.message}`,
    ];
    // Diagnostics on the very same span share one code frame, under the first of them.
    const previous = shown[index - 1];
    const sameAsPrevious = previous !== undefined && sameSpan(previous.span, diagnostic.span);
    const frame = sameAsPrevious ? undefined : codeFrame(locator, diagnostic.span, options.color);
    if (frame !== undefined) lines.push(frame);
    if (diagnostic.hint !== undefined) lines.push(`  ${colors.cyan('hint')}: ${diagnostic.hint}`);
    for (const related of diagnostic.related) {
      const at = locator.locate(related.span);
      lines.push(`  ${colors.dim(`${at.file}:${at.line}:${at.column}`)}: ${related.message}`);
    }
    if (sameAsPrevious) blocks[blocks.length - 1] += `\n${lines.join('\n')}`;
    else blocks.push(lines.join('\n'));
  });
  if (errorsHidden > 0) {
    blocks.push(`… and ${errorsHidden} more error${errorsHidden === 1 ? '' : 's'} not shown (showing the first ${maxErrors}; --max-errors N to change that)`);
  }
  return blocks.length === 0 ? '' : `${blocks.join('\n\n')}\n`;
}

function sameSpan(a: Span, b: Span): boolean {
  return a.file === b.file && a.start === b.start && a.end === b.end;
}

/**
 * Whether a file's text may be echoed in a code frame: `.pipe` source, the
 * standard library, and the PyTorch schedule CSVs pipec reads as programs.
 * Anything else a diagnostic can point into (a costs JSON, an extern module,
 * an entry file that is not `.pipe` at all, such as /etc/passwd handed to a
 * bot that checks files) keeps its file:line:col but shows none of its text.
 */
export function showsCodeFrame(file: string): boolean {
  return file.startsWith('std:') || /\.(pipe|csv)$/i.test(file);
}

function codeFrame(locator: Locator, span: Span, color: boolean): string | undefined {
  if (!showsCodeFrame(span.file)) return undefined;
  const text = locator.text(span.file);
  if (text === undefined) return undefined;
  const where = locator.locate(span);
  // A span over many lines (a whole block) would print the whole block: mark its first line only.
  const multiline = where.endLine > where.line + 2;
  const lineEnd = text.indexOf('\n', Math.min(span.start, text.length));
  const end = multiline
    ? locator.locate({ file: span.file, start: lineEnd < 0 ? text.length : lineEnd, end: lineEnd < 0 ? text.length : lineEnd })
    : { line: where.endLine, column: where.endColumn };
  // Only the lines shown (babel numbers them from startLine), each cut to a window around the span's first column: a
  // one-line 64 KB file prints a frame of a few hundred characters, not the line.
  const firstLine = Math.max(1, where.line - 1);
  const excerpt = linesOf(text, firstLine, end.line + 1);
  const from = excerpt.some((line) => line.length > FRAME_WIDTH) ? Math.max(0, where.column - 1 - FRAME_LEAD) : 0;
  const cut = (line: string) => {
    const window = line.slice(from, from + FRAME_WIDTH);
    return `${from > 0 ? '…' : ''}${window}${line.length > from + FRAME_WIDTH ? '…' : ''}`;
  };
  const shift = (column: number) => Math.min(Math.max(1, column - from + (from > 0 ? 1 : 0)), FRAME_WIDTH + 2);
  const location: CodeFrameLocation = where.line === end.line && where.column === end.column
    ? { start: { line: where.line, column: shift(where.column) } }
    : { start: { line: where.line, column: shift(where.column) }, end: { line: end.line, column: shift(end.column) } };
  return codeFrameColumns(excerpt.map(cut).join('\n'), location, { highlightCode: color, forceColor: color, linesAbove: 1, linesBelow: 1, startLine: firstLine })
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** Columns of one source line a frame shows, and how many of them lead up to the span. */
const FRAME_WIDTH = 160;
const FRAME_LEAD = 60;

/** Lines first..last (1-based, inclusive, clamped to the text), found without splitting the whole text. */
function linesOf(text: string, first: number, last: number): string[] {
  const lines: string[] = [];
  let offset = 0;
  for (let line = 1; line <= last && offset <= text.length; line++) {
    const newline = text.indexOf('\n', offset);
    const stop = newline < 0 ? text.length : newline;
    if (line >= first) lines.push(text.slice(offset, stop).replace(/\r$/, ''));
    if (newline < 0) break;
    offset = newline + 1;
  }
  return lines;
}

/** "2 errors, 1 warning" — or undefined when there is nothing to say. */
export function summarizeDiagnostics(diagnostics: readonly Diagnostic[]): string | undefined {
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  const parts: string[] = [];
  if (errors > 0) parts.push(`${errors} error${errors === 1 ? '' : 's'}`);
  if (warnings > 0) parts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  return parts.length === 0 ? undefined : parts.join(', ');
}

