// What the language server knows of the user's files: the open buffers
// (unsaved text wins over the disk), a CompilerHost over them, and for each
// open document its analysis: the core's compilation (as `pipec check` runs
// it) and the symbol index of its documents. Analyses are computed on demand
// and cached per buffer version; any edit to any buffer invalidates every
// analysis, since one file's imports may be another's buffer.

import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Position, Range } from 'vscode-languageserver';
import {
  compileFile, createMemoryHost, indexCompilationSymbols, simulateCompilation, verifyEveryPipeline, withSchedule,
  type CheckedProgram, type Compilation, type CompilerHost, type CompileRequest, type SimulatedCompilation, type Span, type SymbolIndex,
} from '../compiler/index.ts';

export const LANGUAGE_ID = 'pipe';
const STANDARD_LIBRARY = 'std:schedules';

/** How far a buffer is compiled for a feature: its names only, or checked as `pipec check` checks it. */
export type AnalysisDepth = 'names' | 'checked';

export interface Analysis {
  readonly uri: string;
  readonly file: string;
  readonly text: string;
  /** As `pipec check` compiles it (every pipeline checked, the selected one through the deadlock proof), or only parsed for `names`. */
  readonly compilation: Compilation;
  readonly index: SymbolIndex;
  /**
   * A pipeline of the file (default: the one `pipec` selects) compiled and
   * simulated under its derived costs, with its own schedule or another
   * (a hover over a schedule it does not use); computed on first use.
   */
  simulation(pipeline?: string, schedule?: string): SimulatedCompilation | undefined;
  /**
   * While the buffer has errors: its programs as they were the last time it
   * checked, so a hover mid-edit can still say what a layer or stage was.
   */
  readonly lastChecked?: readonly CheckedProgram[];
}

export class Workspace {
  private readonly open = new Map<string, TextDocument>();
  /** Open buffers by the file name the compiler sees. */
  private readonly openByFile = new Map<string, TextDocument>();
  private readonly analyses = new Map<string, { readonly version: number; readonly generation: number; readonly analysis: Analysis }>();
  private readonly namesOnly = new Map<string, { readonly version: number; readonly generation: number; readonly analysis: Analysis }>();
  private readonly disk = new Map<string, TextDocument>();
  private readonly lastChecked = new Map<string, readonly CheckedProgram[]>();
  private generation = 0;
  private standardLibraryUri: string | undefined;

  private readonly request: CompileRequest;

  constructor(request: CompileRequest = {}) {
    this.request = request;
  }

  readonly host: CompilerHost = {
    readFile: (file) => {
      const buffer = this.openByFile.get(file);
      if (buffer !== undefined) return buffer.getText();
      try {
        return statSync(file).isFile() ? readFileSync(file, 'utf8') : undefined;
      } catch {
        return undefined;
      }
    },
    resolveImport: (fromFile, specifier) => {
      if (specifier.startsWith('std:')) return specifier;
      return path.isAbsolute(fromFile) ? path.resolve(path.dirname(fromFile), specifier) : path.resolve(specifier);
    },
  };

  openDocument(uri: string, version: number, text: string): void {
    const document = TextDocument.create(uri, LANGUAGE_ID, version, text);
    this.open.set(uri, document);
    this.openByFile.set(fileOf(uri), document);
    this.generation++;
  }

  changeDocument(uri: string, version: number, changes: Parameters<typeof TextDocument.update>[1]): void {
    const document = this.open.get(uri);
    if (document === undefined) return;
    const updated = TextDocument.update(document, changes, version);
    this.open.set(uri, updated);
    this.openByFile.set(fileOf(uri), updated);
    this.generation++;
  }

  closeDocument(uri: string): void {
    this.open.delete(uri);
    this.openByFile.delete(fileOf(uri));
    this.analyses.delete(uri);
    this.namesOnly.delete(uri);
    this.lastChecked.delete(uri);
    this.generation++;
  }

  /** Files changed on disk (an import no buffer holds): every analysis is stale. */
  invalidate(): void {
    this.generation++;
  }

  document(uri: string): TextDocument | undefined {
    return this.open.get(uri);
  }

  openUris(): string[] {
    return [...this.open.keys()];
  }

  /**
   * The buffer's analysis. `checked` (diagnostics, hovers, quick fixes)
   * runs what `pipec check` runs; `names` (definitions, references,
   * outline, colours, completion) needs only the parsed documents and
   * their index, so it stays quick on a large program mid-edit, and uses
   * the checked analysis when one is up to date.
   */
  analysis(uri: string, depth: AnalysisDepth = 'checked'): Analysis | undefined {
    const document = this.open.get(uri);
    if (document === undefined) return undefined;
    const fresh = (entry: { version: number; generation: number } | undefined) => entry !== undefined && entry.version === document.version && entry.generation === this.generation;
    const checked = this.analyses.get(uri);
    if (fresh(checked)) return checked!.analysis;
    if (depth === 'names') {
      const named = this.namesOnly.get(uri);
      if (fresh(named)) return named!.analysis;
      const analysis = this.analyse(document, 'names');
      this.namesOnly.set(uri, { version: document.version, generation: this.generation, analysis });
      return analysis;
    }
    const analysis = this.analyse(document, 'checked');
    this.analyses.set(uri, { version: document.version, generation: this.generation, analysis });
    return analysis;
  }

  private analyse(document: TextDocument, depth: AnalysisDepth): Analysis {
    const file = fileOf(document.uri);
    const compilation = depth === 'names'
      ? compileFile(file, this.host, { ...this.request, until: 'parse' })
      : verifyEveryPipeline(compileFile(file, this.host, { ...this.request, until: 'check' }));
    const index = indexCompilationSymbols(compilation);
    const simulations = new Map<string, SimulatedCompilation | undefined>();
    const pipelines = new Map<string, Compilation>();
    const compilationOf = (pipeline: string | undefined): Compilation | undefined => {
      if (depth === 'names' || compilation.program === undefined) return undefined;
      if (pipeline === undefined || pipeline === compilation.program.pipeline.name) return compilation;
      if (!compilation.programs?.has(pipeline)) return undefined;
      if (!pipelines.has(pipeline)) pipelines.set(pipeline, compileFile(file, this.host, { ...this.request, pipeline }));
      return pipelines.get(pipeline);
    };
    if (depth === 'checked' && compilation.programs !== undefined && compilation.programs.size > 0) this.lastChecked.set(document.uri, [...compilation.programs.values()]);
    const lastChecked = compilation.program === undefined ? this.lastChecked.get(document.uri) : undefined;
    return {
      uri: document.uri, file, text: document.getText(), compilation, index, ...(lastChecked === undefined ? {} : { lastChecked }),
      simulation: (pipeline, schedule) => {
        const key = `${pipeline ?? ''}|${schedule ?? ''}`;
        if (!simulations.has(key)) {
          const base = compilationOf(pipeline);
          const own = base?.program?.pipeline.schedule.name;
          const variant = base === undefined || schedule === undefined || schedule === own ? base : withSchedule(base, schedule);
          simulations.set(key, variant?.ir === undefined ? undefined : simulateCompilation(variant));
        }
        return simulations.get(key);
      },
    };
  }

  /** The URI an editor opens for a file the compiler named (the standard library is served as a file). */
  uriOf(file: string): string {
    if (file === STANDARD_LIBRARY) return this.standardLibrary();
    for (const [uri, document] of this.open) if (fileOf(uri) === file) return document.uri;
    return path.isAbsolute(file) ? pathToFileURL(file).href : file;
  }

  /** Line/character ranges for spans in any file the compiler read: an open buffer, the disk, the standard library. */
  rangeOf(span: Span, sources?: ReadonlyMap<string, string>): Range {
    const document = this.textDocumentOf(span.file, sources);
    return { start: document.positionAt(span.start), end: document.positionAt(span.end) };
  }

  positionOf(file: string, offset: number, sources?: ReadonlyMap<string, string>): Position {
    return this.textDocumentOf(file, sources).positionAt(offset);
  }

  private textDocumentOf(file: string, sources?: ReadonlyMap<string, string>): TextDocument {
    const buffer = this.openByFile.get(file);
    if (buffer !== undefined) return buffer;
    const text = sources?.get(file) ?? this.host.readFile(file) ?? '';
    const cached = this.disk.get(file);
    if (cached !== undefined && cached.getText() === text) return cached;
    const document = TextDocument.create(this.uriOf(file), LANGUAGE_ID, 0, text);
    this.disk.set(file, document);
    return document;
  }

  /**
   * `std:schedules` as a file an editor can open: the repository's
   * compiler/stdlib/schedules.pipe when it holds the embedded text, else a
   * copy written once to the temp folder (an installed package ships no
   * .pipe sources).
   */
  private standardLibrary(): string {
    if (this.standardLibraryUri !== undefined) return this.standardLibraryUri;
    // Every compilation loads the standard library, even one whose entry file does not exist.
    const text = compileFile('', createMemoryHost({}), { until: 'parse' }).sources.get(STANDARD_LIBRARY) ?? '';
    const inRepository = fileURLToPath(new URL('../compiler/stdlib/schedules.pipe', import.meta.url));
    let file = inRepository;
    if (this.host.readFile(inRepository) !== text) {
      file = path.join(tmpdir(), 'pipec-std', 'schedules.pipe');
      try {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, text);
      } catch {
        // Without a writable temp folder, definitions in the standard library point at a URI nothing can open.
        this.standardLibraryUri = 'pipec-std:schedules';
        return this.standardLibraryUri;
      }
    }
    this.standardLibraryUri = pathToFileURL(file).href;
    return this.standardLibraryUri;
  }

  /** The file name a URI is compiled as: its path for file: URIs, the URI itself otherwise (unsaved buffers). */
  fileOf(uri: string): string {
    return fileOf(uri);
  }
}

function fileOf(uri: string): string {
  return uri.startsWith('file:') ? fileURLToPath(uri) : uri;
}
