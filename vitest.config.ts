import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Vite does not resolve a package's references to itself: map `pipec`,
// `pipec/compiler` and `pipec/runtime` (as samples/layers/swiglu.ts imports
// it) to the sources package.json's `pipec-sources` condition names.
const manifest = JSON.parse(readFileSync(new URL('package.json', import.meta.url), 'utf8')) as { exports: Record<string, string | Record<string, string>> };
const ownPackage = Object.entries(manifest.exports).flatMap(([entry, target]) =>
  typeof target === 'object' && target['pipec-sources']
    ? [{ find: new RegExp(`^${`pipec${entry.slice(1)}`.replaceAll('/', '\\/')}$`), replacement: fileURLToPath(new URL(target['pipec-sources'], import.meta.url)) }]
    : []);

export default defineConfig({
  resolve: { alias: ownPackage },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // Vitest's default in run mode is one worker fewer than the cores: one on
    // CI's two-core machines. Two keep both busy (the suite waits on worker
    // threads and child processes as much as it computes).
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
