// An editor, as far as the language server can tell: it spawns the real
// `pipec lsp --stdio` process and speaks JSON-RPC to it over the child's
// stdio with vscode-jsonrpc, as VS Code's client does.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';

export const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export interface Position { readonly line: number; readonly character: number }
export interface Range { readonly start: Position; readonly end: Position }
export interface EditorDiagnostic {
  readonly range: Range;
  readonly severity: number;
  readonly code: string;
  readonly message: string;
  readonly relatedInformation?: readonly { readonly location: { readonly uri: string; readonly range: Range }; readonly message: string }[];
}

export interface EditorSession {
  readonly connection: MessageConnection;
  readonly child: ChildProcess;
  /** Everything the server wrote to stderr (a crash's stack trace ends up here). */
  readonly stderr: () => string;
  /** Whether the process has exited, and how. */
  readonly exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** The next diagnostics published for `uri` (after `since` ones already seen), as the editor receives them. */
  diagnostics(uri: string, predicate?: (diagnostics: readonly EditorDiagnostic[]) => boolean, timeoutMs?: number): Promise<EditorDiagnostic[]>;
  request<T>(method: string, params: unknown): Promise<T>;
  notify(method: string, params: unknown): Promise<void>;
  /** shutdown, then exit: resolves with the process's exit code. */
  close(): Promise<number | null>;
}

export function fileUri(file: string): string {
  return pathToFileURL(file).href;
}

export async function startEditorSession(): Promise<EditorSession> {
  const child = spawn(process.execPath, [`${REPOSITORY}bin/pipec.js`, 'lsp', '--stdio'], { cwd: REPOSITORY, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) => child.on('exit', (code, signal) => { exit = { code, signal }; resolve(); }));
  const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  const published = new Map<string, EditorDiagnostic[][]>();
  const waiters: { uri: string; predicate: (d: readonly EditorDiagnostic[]) => boolean; resolve: (d: EditorDiagnostic[]) => void }[] = [];
  connection.onNotification('textDocument/publishDiagnostics', (params: { uri: string; diagnostics: EditorDiagnostic[] }) => {
    published.set(params.uri, [...(published.get(params.uri) ?? []), params.diagnostics]);
    for (const waiter of [...waiters]) {
      if (waiter.uri === params.uri && waiter.predicate(params.diagnostics)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(params.diagnostics);
      }
    }
  });
  connection.listen();
  await connection.sendRequest('initialize', { processId: process.pid, rootUri: fileUri(REPOSITORY), capabilities: {} });
  await connection.sendNotification('initialized', {});
  return {
    connection,
    child,
    stderr: () => stderr,
    exited: () => exit,
    diagnostics(uri, predicate = () => true, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no diagnostics for ${uri} within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
        waiters.push({ uri, predicate, resolve: (d) => { clearTimeout(timer); resolve(d); } });
      });
    },
    request: (method, params) => connection.sendRequest(method, params),
    notify: (method, params) => connection.sendNotification(method, params),
    async close() {
      await connection.sendRequest('shutdown');
      await connection.sendNotification('exit');
      await exited;
      connection.dispose();
      return exit?.code ?? null;
    },
  };
}

/** The line/character of the `occurrence`-th (0-based) `needle` in `text`, plus `into` characters. */
export function positionOf(text: string, needle: string, into = 0, occurrence = 0): Position {
  let index = -1;
  for (let i = 0; i <= occurrence; i++) {
    index = text.indexOf(needle, index + 1);
    if (index < 0) throw new Error(`'${needle}' (#${occurrence}) not in the text`);
  }
  const offset = index + into;
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  return { line, character: offset - (before.lastIndexOf('\n') + 1) };
}

/** The text covered by a range. */
export function textAt(text: string, range: Range): string {
  const lines = text.split('\n');
  const offset = (position: Position) => lines.slice(0, position.line).reduce((sum, line) => sum + line.length + 1, 0) + position.character;
  return text.slice(offset(range.start), offset(range.end));
}

/** A text with edits applied (as an editor applies a WorkspaceEdit's TextEdits). */
export function applyEdits(text: string, edits: readonly { range: Range; newText: string }[]): string {
  const lines = text.split('\n');
  const offset = (position: Position) => lines.slice(0, position.line).reduce((sum, line) => sum + line.length + 1, 0) + position.character;
  return [...edits]
    .sort((a, b) => offset(b.range.start) - offset(a.range.start))
    .reduce((current, edit) => current.slice(0, offset(edit.range.start)) + edit.newText + current.slice(offset(edit.range.end)), text);
}
