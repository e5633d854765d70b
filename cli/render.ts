// How commands report compilations: the core's diagnostics rendered by the
// one renderer (grammar/render.ts, through grammar/index.ts), plus why a
// compilation stopped when that is no diagnostic, and the exit code.

import type { Compilation } from '../compiler/index.ts';
import { renderDiagnostics, summarizeDiagnostics, type RenderOptions } from '../grammar/index.ts';

export { DEFAULT_MAX_ERRORS, renderDiagnostics, sortDiagnostics, summarizeDiagnostics, toJsonDiagnostics, type RenderOptions } from '../grammar/index.ts';

/** How a command reports a compilation that did not get as far as it needs: the text for standard error and the exit code. */
export function renderCompilationProblems(
  compilation: Compilation,
  options: RenderOptions & { readonly purpose: string },
): { readonly text: string; readonly exitCode: number } {
  const { stop, diagnostics } = compilation;
  if (stop?.kind === 'usage') return { text: `pipec: ${stop.message}\n`, exitCode: 2 };
  const errors = diagnostics.some((d) => d.severity === 'error');
  let text = diagnostics.length === 0 ? '' : renderDiagnostics(diagnostics, compilation.sources, options);
  const summary = summarizeDiagnostics(diagnostics);
  if (options.format === 'text' && summary !== undefined && (errors || stop !== undefined)) text += `${compilation.name}: ${summary}\n`;
  if (stop?.kind === 'nothing') text += `pipec: nothing to ${options.purpose}: ${stop.message}\n`;
  return { text, exitCode: errors || stop !== undefined ? 1 : 0 };
}
