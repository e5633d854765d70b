// `pipec lsp [--stdio]`: the .pipe language server, speaking the Language
// Server Protocol on stdin/stdout (what editors start; the VS Code
// extension in editors/vscode runs this). The server itself is lsp/server.ts;
// this command only wires its streams and hands it the Node edge's reader of
// extern layers, so the editor reports what `pipec check` reports.

import type { Command } from 'commander';
import { createConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver/node';
import { readExternModule } from '../../runtime/index.ts';
import { startLanguageServer } from '../../lsp/server.ts';

export function register(program: Command): void {
  program
    .command('lsp')
    .description('run the .pipe language server on stdin/stdout (for editors)')
    .option('--stdio', 'talk over stdin/stdout (the default and only transport)')
    .action(async () => {
      // stdout carries the protocol: anything else printed there would corrupt it.
      console.log = console.info = console.warn;
      const connection = createConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));
      startLanguageServer(connection, { request: { readExternModule } });
      // The connection ends the process on the client's `exit`; until then the command runs.
      await new Promise<void>((resolve) => connection.onExit(resolve));
    });
}
