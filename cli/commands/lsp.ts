// `pipec lsp [--stdio]`: the .pipe language server, speaking the Language
// Server Protocol on stdin/stdout (what editors start; the VS Code
// extension in editors/vscode runs this). The server itself is lsp/server.ts;
// this command only wires its streams and hands it the Node edge's reader of
// extern layers, so the editor reports what `pipec check` reports.

import type { Command } from 'commander';
import { createConnection } from 'vscode-languageserver/node';
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
      // Given the raw streams, the protocol library ends the process itself: on `exit` (0 after a
      // shutdown, else 1) and when the editor goes away and stdin closes (1).
      const connection = createConnection(process.stdin, process.stdout);
      startLanguageServer(connection, { request: { readExternModule } });
      await new Promise<void>((resolve) => connection.onExit(resolve));
    });
}
