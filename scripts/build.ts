// `npm run build` (also run by `npm pack`/`npm publish`): emits dist/ for
// installs of the package, where Node will not strip types from files under
// node_modules. In this repository everything runs from the sources.

import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
// Files tsc does not emit: the generated gradient registrations and the CST types.
cpSync(new URL('../runtime/vendor/tfjs-gradients.mjs', import.meta.url), new URL('../dist/runtime/vendor/tfjs-gradients.mjs', import.meta.url));
cpSync(new URL('../grammar/cst.d.ts', import.meta.url), new URL('../dist/grammar/cst.d.ts', import.meta.url));
