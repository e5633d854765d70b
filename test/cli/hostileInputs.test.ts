// Issue 12, part 4: the CLI never prints a stack trace for a user's input
// or a user's path. Every command meets a missing file, a folder, an
// unreadable file, a binary file, a path under a file and an output (or
// input) in a missing folder; each answers with exit 1 or 2 and one clear
// line naming what it could not use. And a reader that closes the pipe
// early stops pipec quietly.

import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

const directory = mkdtempSync(path.join(tmpdir(), 'pipec-hostile-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

interface CaseResult {
  readonly command: string;
  readonly input: string;
  readonly args: readonly string[];
  readonly exitCode: number | 'threw';
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * All cases in one process (a process per case would take a minute). As
 * root a chmod 000 file is still readable, so the driver then runs as the
 * unprivileged user nobody, where it really cannot be read.
 */
function runEveryCase(): CaseResult[] {
  const root = process.getuid?.() === 0;
  if (root) chownSync(directory, 65534, 65534);
  const result = spawnSync(process.execPath, ['test/cli/helpers/hostileInputs.ts', directory], {
    encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, ...(root ? { uid: 65534, gid: 65534 } : {}), timeout: 120_000,
  });
  expect(result.stderr).toBe('');
  return result.stdout.trim().split('\n').map((line) => JSON.parse(line) as CaseResult);
}

describe('every command, every wrong input', () => {
  const results = runEveryCase();

  test('every command and every kind of input was driven', () => {
    const commands = new Set(results.map((r) => r.command.split(' ')[0]));
    expect([...commands].sort()).toEqual(['backends', 'check', 'compile', 'export', 'fmt', 'profile', 'schedule', 'show', 'simulate', 'train', 'tune', 'verify']);
    const inputs = new Set(results.map((r) => r.input));
    expect([...inputs].sort()).toEqual(['binary', 'folder', 'missing', 'missingOutputFolder', 'underAFile', 'unreadable']);
  });

  test.each(results.map((r) => [`${r.command} with ${r.input}`, r] as const))('%s: exit 1 or 2, one clear line, no stack trace', (_name, result) => {
    const output = result.stdout + result.stderr;
    expect(output).not.toMatch(/^\s+at /m);
    expect(result.exitCode === 1 || result.exitCode === 2, `${result.args.join(' ')} exited ${result.exitCode}:\n${output}`).toBe(true);
    const lines = result.stderr.trimEnd().split('\n');
    // Commander's usage errors add the line that points to --help.
    expect(lines.filter((line) => !line.startsWith('(run `pipec --help`')).length).toBe(1);
    // train announces what it trains before the runtime opens --resume's checkpoint; nothing else reaches stdout.
    expect(result.stdout.replace(/^training .*\n/, '')).toBe('');
  });

  test('the messages say what is wrong with which path', () => {
    const message = (command: string, input: string) => results.find((r) => r.command === command && r.input === input)!.stderr;
    expect(message('check', 'missing')).toBe(`pipec: ${directory}/missing.pipe does not exist\n`);
    expect(message('train', 'folder')).toBe(`pipec: ${directory}/folder.pipe is a folder, not a file\n`);
    expect(message('compile', 'unreadable')).toBe(`pipec: ${directory}/unreadable.pipe cannot be read (permission denied)\n`);
    expect(message('fmt', 'binary')).toBe(`pipec: ${directory}/binary.pipe is not a text file\n`);
    expect(message('show', 'missingOutputFolder')).toBe(`pipec: cannot write ${directory}/no-such-folder/out.svg: its folder does not exist\n`);
    // Checked before training, not after it.
    expect(message('train', 'missingOutputFolder')).toBe(`pipec: cannot write ${directory}/no-such-folder/out.json: its folder does not exist\n`);
    expect(message('train --checkpoint', 'binary')).toContain(`${directory}/binary.pipe is a file, not a folder`);
  });
});

describe('a closed pipe', () => {
  test('pipec schedule … | head -c 100 stops quietly', () => {
    const result = spawnSync('sh', ['-c', `'${process.execPath}' bin/pipec.js schedule 1f1b -p 64 -m 256 --format json | head -c 100 >/dev/null; echo "status $?"`], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    // POSIX sh reports the last command of the pipe; ask for pipec's own status too.
    const own = spawnSync('bash', ['-c', `set -o pipefail; '${process.execPath}' bin/pipec.js schedule 1f1b -p 64 -m 256 --format json | head -c 100 >/dev/null; echo "status $?"`], { encoding: 'utf8' });
    expect(own.stderr).toBe('');
    expect(own.stdout).toBe('status 0\n');
  });
});
