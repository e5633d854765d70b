// The .pipe language server: `pipec lsp` runs it over stdio. It sits on the
// compiler's public face only: every feature asks the core's one
// compilation of the buffer (through a host that serves unsaved buffers
// before the disk) and its symbol index, and renders what it gets.

import {
  TextDocumentSyncKind, type Connection, type InitializeResult, type TextEdit,
} from 'vscode-languageserver';
import { parse, printDocument, type CompileRequest } from '../compiler/index.ts';
import { completionsAt } from './completion.ts';
import { editorDiagnostics, quickFixes } from './diagnostics.ts';
import { foldingRanges } from './folding.ts';
import { hoverAt } from './hover.ts';
import { definitionAt, documentSymbols, prepareRename, referencesAt, rename } from './navigation.ts';
import { SEMANTIC_TOKENS_LEGEND, semanticTokens } from './semanticTokens.ts';
import { Workspace, type AnalysisDepth } from './workspace.ts';

export interface ServerOptions {
  /** Passed to every compilation (the Node edge gives the extern-layer reader). */
  readonly request?: CompileRequest;
  /** Milliseconds of quiet after an edit before diagnostics are published. */
  readonly debounceMs?: number;
}

export function startLanguageServer(connection: Connection, options: ServerOptions = {}): void {
  const workspace = new Workspace(options.request);
  const debounceMs = options.debounceMs ?? 200;
  const pending = new Map<string, ReturnType<typeof setTimeout>>();

  const publish = (uri: string) => {
    pending.delete(uri);
    // Runs from a timer, where an exception would end the process: a compiler bug is logged, the server stays up.
    try {
      const analysis = workspace.analysis(uri);
      if (analysis === undefined) return;
      void connection.sendDiagnostics({ uri, version: workspace.document(uri)?.version, diagnostics: editorDiagnostics(workspace, analysis) });
    } catch (error) {
      connection.console.error(`pipec: diagnostics of ${uri} failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  };
  /** Every open buffer's diagnostics after a quiet spell (one buffer's edit can change what its importers report). */
  const schedulePublish = () => {
    for (const uri of workspace.openUris()) {
      clearTimeout(pending.get(uri));
      pending.set(uri, setTimeout(() => publish(uri), debounceMs));
    }
  };

  connection.onInitialize((): InitializeResult => ({
    capabilities: {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
      hoverProvider: true,
      definitionProvider: true,
      referencesProvider: true,
      documentSymbolProvider: true,
      documentFormattingProvider: true,
      renameProvider: { prepareProvider: true },
      codeActionProvider: { codeActionKinds: ['quickfix'] },
      // Typing a word opens completion anyway; these open it where no word has started yet.
      completionProvider: { triggerCharacters: ['(', ',', ':', '"', '/', '['] },
      semanticTokensProvider: { legend: SEMANTIC_TOKENS_LEGEND, full: true },
      foldingRangeProvider: true,
    },
    serverInfo: { name: 'pipec', version: '0.1.0' },
  }));

  connection.onDidOpenTextDocument(({ textDocument }) => {
    workspace.openDocument(textDocument.uri, textDocument.version, textDocument.text);
    schedulePublish();
  });
  connection.onDidChangeTextDocument(({ textDocument, contentChanges }) => {
    workspace.changeDocument(textDocument.uri, textDocument.version, contentChanges);
    schedulePublish();
  });
  connection.onDidCloseTextDocument(({ textDocument }) => {
    clearTimeout(pending.get(textDocument.uri));
    pending.delete(textDocument.uri);
    workspace.closeDocument(textDocument.uri);
    void connection.sendDiagnostics({ uri: textDocument.uri, diagnostics: [] });
    schedulePublish();
  });

  // The client watches **/*.pipe: an imported file saved or changed outside the editor.
  connection.onDidChangeWatchedFiles(() => {
    workspace.invalidate();
    schedulePublish();
  });

  /** The analysis of a buffer and the offset of a position in it. */
  const at = (uri: string, position?: { line: number; character: number }, depth: AnalysisDepth = 'names') => {
    const document = workspace.document(uri);
    const analysis = workspace.analysis(uri, depth);
    if (document === undefined || analysis === undefined) return undefined;
    return { analysis, offset: position === undefined ? 0 : document.offsetAt(position) };
  };

  connection.onHover(({ textDocument, position }) => {
    const found = at(textDocument.uri, position, 'checked');
    return found === undefined ? null : hoverAt(workspace, found.analysis, found.offset);
  });
  connection.onDefinition(({ textDocument, position }) => {
    const found = at(textDocument.uri, position);
    return found === undefined ? null : definitionAt(workspace, found.analysis, found.offset);
  });
  connection.onReferences(({ textDocument, position, context }) => {
    const found = at(textDocument.uri, position);
    return found === undefined ? [] : referencesAt(workspace, found.analysis, found.offset, context.includeDeclaration);
  });
  connection.onPrepareRename(({ textDocument, position }) => {
    const found = at(textDocument.uri, position);
    return found === undefined ? null : prepareRename(workspace, found.analysis, found.offset);
  });
  connection.onRenameRequest(({ textDocument, position, newName }) => {
    const found = at(textDocument.uri, position);
    return found === undefined ? null : rename(workspace, found.analysis, found.offset, newName);
  });
  connection.onDocumentSymbol(({ textDocument }) => {
    const found = at(textDocument.uri);
    return found === undefined ? [] : documentSymbols(workspace, found.analysis);
  });
  // Checked, so a stage's completion offers the layers as the checker expanded them (`hidden[0]`, `hidden[1]`).
  connection.onCompletion(({ textDocument, position }) => {
    const found = at(textDocument.uri, position, 'checked');
    return found === undefined ? [] : completionsAt(workspace, found.analysis, found.offset);
  });
  connection.onCodeAction(({ textDocument, range, context }) => {
    const found = at(textDocument.uri, undefined, 'checked');
    return found === undefined ? [] : quickFixes(workspace, found.analysis, range, context.diagnostics);
  });
  connection.onFoldingRanges(({ textDocument }) => {
    const found = at(textDocument.uri);
    return found === undefined ? [] : foldingRanges(workspace, found.analysis);
  });
  connection.languages.semanticTokens.on(({ textDocument }) => {
    const found = at(textDocument.uri);
    return found === undefined ? { data: [] } : semanticTokens(workspace, found.analysis);
  });
  // The canonical printer, `pipec fmt`'s; a buffer with syntax errors is left as it is.
  connection.onDocumentFormatting(({ textDocument }): TextEdit[] | null => {
    const document = workspace.document(textDocument.uri);
    if (document === undefined) return null;
    const text = document.getText();
    const parsed = parse({ name: workspace.fileOf(textDocument.uri), text });
    if (parsed.diagnostics.some((diagnostic) => diagnostic.severity === 'error')) return null;
    const formatted = printDocument(parsed.document, { text });
    if (formatted === text) return [];
    return [{ range: { start: { line: 0, character: 0 }, end: document.positionAt(text.length) }, newText: formatted }];
  });

  connection.listen();
}
