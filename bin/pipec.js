#!/usr/bin/env node
// Entry point. pipec runs its TypeScript sources directly on Node >= 22.18
// (type stripping); the project pins Node 24 as a dependency, so `npx pipec`
// and npm scripts use it even where the machine's own Node is older.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `pipec needs Node >= 22.18 (this is ${process.versions.node}). ` +
      'Run it through npm (`npx pipec ...` or `npm run pipec -- ...`), which uses the Node 24 the project installs.\n',
  );
  process.exit(2);
}
// Cache compiled (and type-stripped) modules between runs: start-up is most
// of a short command's time. The cache lives in the OS temp folder.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv);
