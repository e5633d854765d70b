// Loads the entry file and everything it imports, through the host. The
// standard library (`std:schedules`) is imported implicitly into every
// program; its text is embedded in the compiler, so no file system is needed.
// Reports missing files, unknown `std:` modules and import cycles.

import type { Document } from '../../grammar/ast.ts';
import { parse, type ParseResult } from '../../grammar/index.ts';
import { makeSource } from '../../grammar/source.ts';
import type { CompilerHost } from '../host.ts';
import { mayRead, projectRoot, type ReadAccess } from './readAccess.ts';
import { standardLibrary } from '../stdlib/index.ts';
import type { Reporter } from './context.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

export const STANDARD_SCHEDULES = 'std:schedules';

export interface LoadedDocument {
  readonly file: string;
  readonly document: Document;
  readonly isStandardLibrary: boolean;
}

export interface LoadedProgram {
  /** The entry document first, then imports depth-first, the standard library last. */
  readonly documents: readonly LoadedDocument[];
  readonly sources: ReadonlyMap<string, string>;
  readonly entryFound: boolean;
}

/**
 * The standard library's text is fixed, and its AST is readonly data:
 * parsed once per process, not once per compilation (a language server
 * or `pipec tune` compiles many times, and it is the largest source).
 */
const standardLibraryParses = new Map<string, { readonly text: string; readonly result: ParseResult }>();

function parseStandardLibrary(name: string, text: string): ParseResult {
  const cached = standardLibraryParses.get(name);
  if (cached !== undefined && cached.text === text) return cached.result;
  const result = parse(makeSource(name, text));
  standardLibraryParses.set(name, { text, result });
  return result;
}

export function loadDocuments(entryFile: string, host: CompilerHost, reporter: Reporter, access: ReadAccess): LoadedProgram {
  const sources = new Map<string, string>();
  const documents: LoadedDocument[] = [];
  const loaded = new Set<string>();
  const importStack: string[] = [];

  const parseInto = (file: string, text: string, isStandardLibrary: boolean): Document => {
    sources.set(file, text);
    const { document, diagnostics } = isStandardLibrary ? parseStandardLibrary(file, text) : parse(makeSource(file, text));
    reporter.diagnostics.push(...diagnostics);
    documents.push({ file, document, isStandardLibrary });
    return document;
  };

  const loadStandardLibrary = (name: string): boolean => {
    if (loaded.has(name)) return true;
    const text = standardLibrary(name);
    if (text === undefined) return false;
    loaded.add(name);
    parseInto(name, text, true);
    return true;
  };

  const loadFile = (file: string, text: string): void => {
    loaded.add(file);
    importStack.push(file);
    const document = parseInto(file, text, false);
    for (const declaration of document.imports) {
      const specifier = declaration.path.value;
      if (specifier === '') continue; // recovered from a syntax error
      if (specifier.startsWith('std:')) {
        if (!loadStandardLibrary(specifier)) {
          reporter.report(diagnosticMessages.unknownLibrary, declaration.path.span, { name: specifier }, {
            hint: `the standard library has '${STANDARD_SCHEDULES}'`,
          });
        }
        continue;
      }
      const target = host.resolveImport(file, specifier);
      const cycleStart = importStack.indexOf(target);
      if (cycleStart >= 0) {
        const cycle = [...importStack.slice(cycleStart), target].join(' → ');
        reporter.report(diagnosticMessages.importCycle, declaration.path.span, { cycle }, {
          hint: 'move the shared declarations into a file that both can import',
        });
        continue;
      }
      if (loaded.has(target)) continue;
      // Refused before reading: only .pipe source inside the project is ever read, so no other file's text reaches a code frame.
      if (!target.endsWith('.pipe')) {
        reporter.report(diagnosticMessages.importNotPipeSource, declaration.path.span, { path: specifier });
        continue;
      }
      if (!mayRead(access, target, host)) {
        reporter.report(diagnosticMessages.readOutsideProject, declaration.path.span, { what: 'the import', path: specifier, root: projectRoot(access) });
        continue;
      }
      const importedText = host.readFile(target);
      if (importedText === undefined) {
        reporter.report(diagnosticMessages.importNotFound, declaration.path.span, { path: specifier }, {
          hint: `looked for ${target}`,
        });
        continue;
      }
      loadFile(target, importedText);
    }
    importStack.pop();
  };

  const entryText = host.readFile(entryFile);
  if (entryText !== undefined) loadFile(entryFile, entryText);
  loadStandardLibrary(STANDARD_SCHEDULES);
  return { documents, sources, entryFound: entryText !== undefined };
}
