// Issue 12, part 5: imports and extern modules stay inside the project (the
// entry file's folder by default; the CLI's project is the repository the
// file belongs to) or a folder the caller allows; anything else is refused
// at the import line BEFORE it is read, so no other file's text is echoed.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { compileFile, createReaderHost } from '../../compiler/index.ts';
import { main } from '../../cli/main.ts';
import { BASE_PROGRAM } from './helpers.ts';

const SCHEDULE_LIBRARY = 'schedule lib_gpipe(p, m) {\n  on device d {\n    F[0..m]\n    B[0..m]\n  }\n}\n';

/** An in-memory host that records every file it was asked to read. */
function recordingHost(files: Record<string, string>) {
  const read: string[] = [];
  const host = createReaderHost((file) => {
    read.push(file);
    return Object.hasOwn(files, file) ? files[file] : undefined;
  });
  return { host, read };
}

describe('the core refuses reads outside the project', () => {
  const files = {
    'project/main.pipe': `import "../library/schedules.pipe"\n${BASE_PROGRAM.replace('schedule 1f1b', 'schedule lib_gpipe')}`,
    'library/schedules.pipe': SCHEDULE_LIBRARY,
  };

  test('an import above the entry file\'s folder is refused at its path, and never read', () => {
    const { host, read } = recordingHost(files);
    const result = compileFile('project/main.pipe', host, { until: 'check' });
    const refused = result.diagnostics.find((d) => d.code === 'PIPE2250')!;
    expect(refused.message).toBe("'../library/schedules.pipe' is outside the project (project), so the import was not read");
    expect(files['project/main.pipe'].slice(refused.span.start, refused.span.end)).toBe('"../library/schedules.pipe"');
    expect(read).toEqual(['project/main.pipe']);
  });

  test('allowRead opens another folder; projectRoot widens the project', () => {
    expect(compileFile('project/main.pipe', recordingHost(files).host, { until: 'check', allowRead: ['library'] }).diagnostics).toEqual([]);
    expect(compileFile('project/main.pipe', recordingHost(files).host, { until: 'check', projectRoot: '.' }).diagnostics).toEqual([]);
    // An allowed folder is a folder, not a prefix: 'library-secrets' is not inside 'library'.
    const sibling = { ...files, 'project/main.pipe': files['project/main.pipe'].replace('../library/', '../library-secrets/'), 'library-secrets/schedules.pipe': SCHEDULE_LIBRARY };
    expect(compileFile('project/main.pipe', recordingHost(sibling).host, { until: 'check', allowRead: ['library'] }).diagnostics.map((d) => d.code)).toEqual(['PIPE2250']);
  });

  test('absolute paths, /proc and files that are not .pipe source are refused unread', () => {
    const text = `import "/etc/passwd"\nimport "/proc/self/environ"\nimport "/etc/group.pipe"\nimport "./notes.txt"\n${BASE_PROGRAM}`;
    const { host, read } = recordingHost({ 'main.pipe': text, 'notes.txt': 'secret' });
    const result = compileFile('main.pipe', host, { until: 'check' });
    expect(result.diagnostics.map((d) => d.code)).toEqual(['PIPE2251', 'PIPE2251', 'PIPE2250', 'PIPE2251']);
    expect(read).toEqual(['main.pipe']);
    expect([...result.sources.keys()]).toEqual(['main.pipe', 'std:schedules']);
  });

  test('an extern layer\'s module outside the project, or not a module, is refused unread', () => {
    const extern = (from: string) => `extern layer SwiGLU(hidden: int) : [batch, d] -> [batch, d] from "${from}"\n${BASE_PROGRAM}`;
    for (const [from, code] of [['/etc/passwd', 'PIPE2252'], ['../layers/swiglu.ts', 'PIPE2250'], ['/etc/x.ts', 'PIPE2250']] as const) {
      const { host, read } = recordingHost({ 'project/main.pipe': extern(from), 'layers/swiglu.ts': 'export default {}' });
      const result = compileFile('project/main.pipe', host, { until: 'check' });
      expect(result.diagnostics.map((d) => d.code)).toEqual([code]);
      expect(read).toEqual(['project/main.pipe']);
    }
  });
});

describe('pipec on disk', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'pipec-read-access-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const project = path.join(directory, 'project');
  const outside = path.join(directory, 'outside');
  mkdirSync(project);
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'schedules.pipe'), SCHEDULE_LIBRARY);
  // A link inside the project that points out of it.
  symlinkSync(path.join(outside, 'schedules.pipe'), path.join(project, 'linked.pipe'));
  const entry = (name: string, imports: string) => {
    const file = path.join(project, name);
    writeFileSync(file, `${imports}\n${BASE_PROGRAM.replace('schedule 1f1b', 'schedule lib_gpipe')}`);
    return file;
  };

  async function pipec(...args: string[]): Promise<{ code: number; output: string }> {
    let output = '';
    const capture = (chunk: string | Uint8Array) => { output += String(chunk); return true; };
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const writeError = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      return { code: await main(['node', 'pipec', ...args]), output };
    } finally {
      write.mockRestore();
      writeError.mockRestore();
    }
  }

  test('/etc/passwd and /proc/self/environ are neither read nor echoed', async () => {
    const file = entry('hostile.pipe', 'import "/etc/passwd"\nimport "../../../../../../../../proc/self/environ.pipe"');
    const result = await pipec('check', '--no-color', file);
    expect(result.code).toBe(1);
    expect(result.output).toContain(`${file}:1:8: error PIPE2251: only .pipe files can be imported, not '/etc/passwd'; it was not read`);
    expect(result.output).toContain(`${file}:2:8: error PIPE2250:`);
    expect(result.output).not.toContain('root:');
    expect(result.output).not.toContain(`PATH=${process.env.PATH}`);
  });

  test('a link that leads out of the project is refused; --allow-read lets the folder in', async () => {
    const linked = entry('linked-main.pipe', 'import "./linked.pipe"');
    const refused = await pipec('check', '--no-color', linked);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain(`'./linked.pipe' is outside the project (${project}), so the import was not read`);
    expect((await pipec('--allow-read', outside, 'check', linked)).code).toBe(0);
    const above = entry('above.pipe', 'import "../outside/schedules.pipe"');
    expect((await pipec('check', above)).code).toBe(1);
    expect((await pipec('check', '--allow-read', outside, above)).code).toBe(0);
    expect((await pipec('--project-root', directory, 'check', above)).code).toBe(0);
  });

  test('the repository is the CLI\'s project: a sample imports from beside its folder', async () => {
    // samples/swiglu.pipe takes its layer from samples/layers/; the goldens take it from samples/ three folders up.
    expect((await pipec('check', 'samples/swiglu.pipe')).code).toBe(0);
    expect((await pipec('check', 'test/cases/diagnostics/PIPE2043-extern-shape.pipe')).output).not.toContain('PIPE2250');
  });
});
