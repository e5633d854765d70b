// The VS Code side of pipec: starts `pipec lsp --stdio` (the command in the
// `pipec.path` setting, through `pipec.node` when that is set) and hands
// .pipe documents to it. Everything a user sees past colouring (squiggles,
// hovers, completion, rename, formatting) is the language server's.

import type { ExtensionContext } from 'vscode';
import { workspace } from 'vscode';
import { LanguageClient, TransportKind, type Executable, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';

let client: LanguageClient | undefined;

/** How to run the server: `pipec lsp --stdio`, or `NODE bin/pipec.js lsp --stdio` for a clone. */
export function serverCommand(path: string, node: string): Executable {
  const args = ['lsp'];
  return node === '' ? { command: path, args, transport: TransportKind.stdio } : { command: node, args: [path, ...args], transport: TransportKind.stdio };
}

export async function activate(context: ExtensionContext): Promise<void> {
  const settings = workspace.getConfiguration('pipec');
  const executable = serverCommand(settings.get<string>('path', 'pipec'), settings.get<string>('node', ''));
  const serverOptions: ServerOptions = { run: executable, debug: executable };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: 'pipe' }],
    synchronize: { fileEvents: workspace.createFileSystemWatcher('**/*.pipe') },
  };
  client = new LanguageClient('pipec', 'pipec', serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => void client?.stop() });
  // A restart picks up a changed pipec.path.
  context.subscriptions.push(workspace.onDidChangeConfiguration(async (event) => {
    if (!event.affectsConfiguration('pipec.path') && !event.affectsConfiguration('pipec.node')) return;
    await client?.stop();
    await activate(context);
  }));
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
