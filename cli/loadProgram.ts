// The Node side of loading a program: a CompilerHost over node:fs, and
// `loadAndCheck`, which every command taking a FILE uses, so they all report
// a missing file, syntax and type errors the same way; and `checkFile`, the
// whole static verification `pipec check` reports.

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Diagnostic } from '../grammar/diagnostic.ts';
import { hasErrors } from '../grammar/diagnostic.ts';
import { checkProgram } from '../compiler/check/index.ts';
import { readExternModuleLazily } from './externReader.ts';
import { autoSchedule } from '../compiler/autoschedule/autoSchedule.ts';
import { compileProgram } from '../compiler/lower/compile.ts';
import type { CompilerHost } from '../compiler/host.ts';
import type { CheckedProgram } from '../compiler/program.ts';

/** Reads files relative to the working directory; imports resolve relative to the importing file. */
export function createNodeHost(): CompilerHost {
  return {
    readFile(file) {
      try {
        return statSync(file).isFile() ? readFileSync(file, 'utf8') : undefined;
      } catch {
        return undefined;
      }
    },
    resolveImport(fromFile, specifier) {
      if (path.isAbsolute(specifier)) return specifier;
      return path.normalize(path.join(path.dirname(fromFile), specifier));
    },
  };
}

export type LoadResult =
  | { readonly kind: 'missing'; readonly file: string; readonly message: string }
  | {
    readonly kind: 'checked';
    readonly file: string;
    readonly program?: CheckedProgram;
    /** Every pipeline of the file, checked (present when there are no errors). */
    readonly programs?: ReadonlyMap<string, CheckedProgram>;
    readonly diagnostics: readonly Diagnostic[];
    readonly sources: ReadonlyMap<string, string>;
    readonly ok: boolean;
  };

export interface LoadOptions {
  readonly pipeline?: string;
  readonly host?: CompilerHost;
}

/**
 * Checks FILE. A file that does not exist is not a diagnostic of the program
 * but a usage problem (commands exit 2); everything else comes back as
 * diagnostics, with `ok` false when there are errors or no pipeline.
 */
export function loadAndCheck(file: string, options: LoadOptions = {}): LoadResult {
  const host = options.host ?? createNodeHost();
  if (host.readFile(file) === undefined) {
    const reason = existsSync(file) ? 'is not a readable file' : 'does not exist';
    return { kind: 'missing', file, message: `pipec: ${file} ${reason}` };
  }
  const result = checkProgram(path.normalize(file), host, { pipeline: options.pipeline, readExternModule: readExternModuleLazily });
  return {
    kind: 'checked',
    file,
    program: result.program,
    programs: result.programs,
    diagnostics: result.diagnostics,
    sources: result.sources,
    ok: !hasErrors(result.diagnostics) && result.program !== undefined,
  };
}

export type CheckedFile =
  | { readonly kind: 'missing'; readonly message: string }
  | {
    readonly kind: 'checked';
    readonly diagnostics: readonly Diagnostic[];
    readonly sources: ReadonlyMap<string, string>;
    readonly program?: CheckedProgram;
  };

/**
 * Everything `pipec check` reports for one file: the checker's diagnostics,
 * then, for a well-typed file, the schedule, deadlock and memory checks of
 * compiling each of its pipelines (the one asked for with --pipeline only).
 */
export function checkFile(file: string, options: { readonly pipeline?: string } = {}): CheckedFile {
  const result = loadAndCheck(file, { pipeline: options.pipeline });
  if (result.kind === 'missing') return { kind: 'missing', message: result.message };
  const diagnostics: Diagnostic[] = [...result.diagnostics];
  if (result.ok && result.program !== undefined) {
    const toCompile = options.pipeline === undefined && result.programs !== undefined ? [...result.programs.values()] : [result.program];
    for (const program of toCompile) diagnostics.push(...compileProgram(program, { autoSchedule }).diagnostics);
  }
  return { kind: 'checked', diagnostics, sources: result.sources, program: result.program };
}
