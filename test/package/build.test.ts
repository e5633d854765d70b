// The published package runs the emitted dist/ (Node does not strip types
// under node_modules): build it and use it the way an embedding tool would.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('published build', () => {
  it('builds dist/ and compiles and simulates a sample through it', async () => {
    execFileSync(process.execPath, ['scripts/build.ts'], { cwd: root, stdio: 'pipe' });
    const pipec = await import(new URL('../../dist/index.js', import.meta.url).href);
    const text = readFileSync(new URL('../../samples/gpt.pipe', import.meta.url), 'utf8');
    const compiled = pipec.compile('gpt.pipe', pipec.createMemoryHost({ 'gpt.pipe': text }));
    expect(compiled.diagnostics).toEqual([]);
    expect(compiled.ir.devices).toHaveLength(4);
    expect(pipec.validateIr(compiled.ir).valid).toBe(true);
    const simulation = pipec.simulateIr(compiled.ir, pipec.deriveCostModel(compiled.program));
    expect(simulation.makespan).toBeGreaterThan(0);
  });

  it('the package exports name only built files', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    for (const [entry, target] of Object.entries<Record<string, string> | string>(manifest.exports)) {
      const paths = typeof target === 'string' ? [target] : Object.values(target);
      for (const path of paths) expect(path, entry).toMatch(/^\.\/(dist\/.*\.(js|d\.ts)|package\.json)$/);
    }
  });
});
