// The playground's pieces outside the browser: its bundle reaches only the
// browser-safe faces (a Node built-in anywhere in its import graph fails the
// build and names the importer), what it shows for a program, its links.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPlayground } from '../../playground/build.ts';
import { analyse } from '../../playground/analyse.ts';
import { decodeFragment, encodeFragment } from '../../playground/share.ts';

describe('playground build', () => {
  it('refuses a Node built-in in the bundle', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'pipec-playground-'));
    const entry = join(folder, 'entry.ts');
    writeFileSync(entry, "import { compile } from '" + new URL('../../compiler/index.ts', import.meta.url).pathname + "';\nimport { readFileSync } from 'node:fs';\nconsole.log(compile, readFileSync);\n");
    await expect(buildPlayground({ entry, outdir: join(folder, 'dist') })).rejects.toThrow(/'node:fs' is a Node built-in, imported by .*entry\.ts/);
  });
});

describe('playground analysis', () => {
  it('locates diagnostics in the edited text and keeps the simulate table empty', () => {
    const analysis = analyse('model m {\n  layer a = Dens(units: 2)\n}\n');
    expect(analysis.diagnostics.find((d) => d.code === 'PIPE2003')).toMatchObject({ code: 'PIPE2003', location: 'main.pipe:2:13', start: 22, end: 26 });
    expect(analysis.svg).toBeUndefined();
    expect(analysis.devices).toEqual([]);
  });

  it('says why a file that checks draws nothing', () => {
    expect(analyse('').note).toMatch(/declares nothing/);
  });
});

describe('shared links', () => {
  it('round-trip the program and the schedule, and ignore a damaged fragment', async () => {
    const text = 'model m {\n  input x: f32[batch, 4]\n}\n// ünïcode\n';
    const fragment = await encodeFragment({ text, schedule: 'zb_h1' });
    expect(fragment).toMatch(/^code=[A-Za-z0-9_-]+&schedule=zb_h1$/);
    expect(await decodeFragment(`#${fragment}`)).toEqual({ text, schedule: 'zb_h1' });
    expect(await decodeFragment('#code=AAAA')).toBeUndefined();
    expect(await decodeFragment('')).toBeUndefined();
  });
});

describe('a built-in schedule the program does not fit', () => {
  it('names the schedule beside the diagnostics', () => {
    const text = readFileSync(new URL('../../samples/mlp.pipe', import.meta.url), 'utf8');
    const analysis = analyse(text, { schedule: 'zb_v' });
    expect(analysis.diagnostics.length).toBeGreaterThan(0);
    expect(analysis.note).toBe('under schedule zb_v (re-split: 8 stages, placement v), the program does not compile');
    expect(analyse(text, { schedule: 'gpipe' }).title).toContain('schedule gpipe');
  });
});
