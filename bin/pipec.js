#!/usr/bin/env node
// Entry point. In the repository pipec runs its TypeScript sources directly
// on Node >= 22.18 (type stripping); the project pins Node 24 as a dependency,
// so `npx pipec` and npm scripts use it even where the machine's own Node is
// older. An installed package runs the emitted dist/ instead, because Node
// does not strip types from files under node_modules; there the Node is the
// user's, and an older one is told how to get a newer one for this command.
import { existsSync } from 'node:fs';

const sources = new URL('../cli/main.ts', import.meta.url);
const fromSources = existsSync(sources);
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const advice = fromSources
    // The repository's own node_modules/.bin/node (the `node` devDependency) comes first on npx's PATH.
    ? 'In this repository run it through npm, which uses the Node 24 the project installs: `npx pipec ...` or `npm run pipec -- ...`.'
    // npx puts the node package's binary first on PATH, so the shebang finds it (test/package/build.test.ts runs this advice).
    : 'Install Node 22 or newer (for example `nvm install 22`), or run this command with the Node that npm installs: `npx --yes -p node@22 pipec ...`.';
  process.stderr.write(`pipec needs Node >= 22.18 (this is ${process.versions.node}). ${advice}\n`);
  process.exit(2);
}
// Cache compiled (and type-stripped) modules between runs: start-up is most
// of a short command's time. The cache lives in the OS temp folder.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
// A reader that stops early (`pipec schedule … | head`) closes the pipe: that
// is the reader's choice, not an error, so pipec stops quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const { main } = await import(fromSources ? sources.href : new URL('../dist/cli/main.js', import.meta.url).href);
process.exitCode = await main(process.argv);
