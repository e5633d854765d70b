// A source file and positions in it. Spans are byte-independent UTF-16
// offsets into `Source.text`; line/column are computed only when rendering,
// so every phase carries cheap integers and nothing goes stale.

export interface Source {
  /** Path or name as the user wrote it (used in rendered diagnostics). */
  readonly name: string;
  readonly text: string;
}

/** Half-open range [start, end) of UTF-16 offsets in the source named `file`. */
export interface Span {
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

export interface LineColumn {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column, in UTF-16 code units. */
  readonly column: number;
}

export function makeSource(name: string, text: string): Source {
  return { name, text };
}

export function spanOf(file: string, start: number, end: number): Span {
  return { file, start, end };
}

/** The smallest span covering both (they must be in the same file). */
export function joinSpans(a: Span, b: Span): Span {
  return { file: a.file, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

/** Maps offsets to line/column with a binary search over line starts. */
export class LineMap {
  private readonly lineStarts: number[];

  constructor(text: string) {
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === 10) starts.push(i + 1);
    }
    this.lineStarts = starts;
  }

  get lineCount(): number {
    return this.lineStarts.length;
  }

  locate(offset: number): LineColumn {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo] + 1 };
  }

  /** Offset of the first character of a 1-based line. */
  lineStart(line: number): number {
    return this.lineStarts[Math.max(0, Math.min(line - 1, this.lineStarts.length - 1))];
  }
}
