// Global setup of `npm run test:torch`: makes or reuses the PyTorch venv
// (scripts/torch-venv.sh) and hands its python to the suite, or the reason
// it could not, in which case every test is skipped with that reason.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    torchPython: string;
    torchSkipReason: string;
  }
}

const root = path.resolve(import.meta.dirname, '../..');

export default function setup(project: TestProject): void {
  const made = spawnSync('bash', [path.join(root, 'scripts/torch-venv.sh')], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const python = made.status === 0 ? made.stdout.trim().split('\n').at(-1) ?? '' : '';
  const reason = python
    ? ''
    : (made.stderr.split('\n').filter((line) => line.startsWith('torch venv:')).at(-1)?.replace(/^torch venv: /, '')
      ?? made.error?.message ?? `scripts/torch-venv.sh exited ${made.status}`);
  if (reason) console.log(`\nPyTorch runtime check skipped: ${reason}\n`);
  project.provide('torchPython', python);
  project.provide('torchSkipReason', reason);
}
