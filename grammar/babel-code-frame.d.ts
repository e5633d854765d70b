// @babel/code-frame ships CommonJS without types; the part grammar/render.ts uses.
declare module '@babel/code-frame' {
  interface CodeFrameLocation {
    readonly start: { readonly line: number; readonly column: number };
    readonly end?: { readonly line: number; readonly column: number };
  }
  interface CodeFrameOptions {
    readonly highlightCode?: boolean;
    readonly forceColor?: boolean;
    readonly linesAbove?: number;
    readonly linesBelow?: number;
    /** The line number of the source's first line (default 1). */
    readonly startLine?: number;
  }
  export function codeFrameColumns(source: string, location: CodeFrameLocation, options: CodeFrameOptions): string;
}
