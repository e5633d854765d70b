import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';

const messy = 'model m{dim batch;layer a=Dense(units:3)}\n';
const tidy = 'model m {\n  dim batch\n  layer a = Dense(units: 3)\n}\n';

describe('pipec fmt', () => {
  let directory: string;
  let stdout: string;
  let stderr: string;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'pipec-fmt-'));
    stdout = '';
    stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  function file(name: string, text: string): string {
    const path = join(directory, name);
    writeFileSync(path, text);
    return path;
  }

  it('prints the formatted text by default and leaves the file alone', async () => {
    const path = file('a.pipe', messy);
    expect(await main(['node', 'pipec', 'fmt', path])).toBe(0);
    expect(stdout).toBe(tidy);
    expect(readFileSync(path, 'utf8')).toBe(messy);
  });

  it('--check exits 1 for an unformatted file and 0 for a formatted one', async () => {
    const bad = file('bad.pipe', messy);
    const good = file('good.pipe', tidy);
    expect(await main(['node', 'pipec', 'fmt', '--check', good])).toBe(0);
    expect(await main(['node', 'pipec', 'fmt', '--check', good, bad])).toBe(1);
    expect(stdout).toBe(`${bad}: not formatted\n`);
  });

  it('--write rewrites the file', async () => {
    const path = file('w.pipe', messy);
    expect(await main(['node', 'pipec', 'fmt', '--write', path])).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe(tidy);
  });

  it('refuses a file with syntax errors, showing where they are', async () => {
    const path = file('broken.pipe', 'model m {\n  layer a (units: 3)\n}\n');
    expect(await main(['node', 'pipec', 'fmt', '--write', path])).toBe(1);
    expect(stderr).toContain(`${path}:2:11: error PIPE1004: expected '=' after 'a', found '('`);
    expect(stderr).toContain('> 2 |   layer a (units: 3)');
    expect(readFileSync(path, 'utf8')).toBe('model m {\n  layer a (units: 3)\n}\n');
  });

  it('exits 2 for a missing file or conflicting flags', async () => {
    expect(await main(['node', 'pipec', 'fmt', join(directory, 'missing.pipe')])).toBe(2);
    const path = file('x.pipe', tidy);
    expect(await main(['node', 'pipec', 'fmt', '--write', '--check', path])).toBe(2);
  });
});
