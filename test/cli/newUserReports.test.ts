// Mistakes new users reported, checked as they met them: `pipec check FILE`
// run as a process on a small program, asserting the message, its
// line:col, the error count and the exit status.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

const directory = mkdtempSync(path.join(tmpdir(), 'pipec-reports-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const sample = readFileSync('samples/mlp.pipe', 'utf8');

/** samples/mlp.pipe with each [from, to] replaced once. */
function variant(...replacements: readonly (readonly [string, string])[]): string {
  return replacements.reduce((text, [from, to]) => {
    expect(text).toContain(from);
    return text.replace(from, to);
  }, sample);
}

function pipecCheck(name: string, text: string): { status: number | null; stdout: string; file: string } {
  const file = path.join(directory, name);
  writeFileSync(file, text);
  const result = spawnSync(process.execPath, ['bin/pipec.js', 'check', '--no-color', file], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: result.status, stdout: result.stdout + result.stderr, file };
}

function errorLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => / (error|warning) PIPE\d{4}: /.test(line));
}

describe('pipec check on what new users wrote', () => {
  test('a device index out of range names the last index that exists (0–3), not a half-open 0..4', () => {
    const { status, stdout, file } = pipecCheck('index.pipe', variant(['s3 on worker[3] = out', 's3 on worker[4] = out']));
    expect(errorLines(stdout)).toEqual([`${file}:33:18: error PIPE3018: worker[4] does not exist: 'worker' has indices 0–3`]);
    expect(status).toBe(1);
  });

  test('a schedule microbatch out of range names the last microbatch (0–7)', () => {
    const schedule = 'schedule late {\n  on device d {\n    F[0..m + 1]\n    B[0..m]\n  }\n}\n\n';
    const { status, stdout, file } = pipecCheck('microbatch.pipe', schedule + variant(['schedule 1f1b', 'schedule late']));
    const lines = errorLines(stdout);
    expect(lines[0]).toBe(`${file}:3:7: error PIPE4007: microbatch 8 is outside 0–7`);
    expect(status).toBe(1);
  });

  test('a negative memory is named as negative, located at the number', () => {
    const { status, stdout, file } = pipecCheck('negative.pipe', variant(['memory 4GiB', 'memory -16GiB']));
    expect(errorLines(stdout)).toEqual([`${file}:21:30: error PIPE2046: memory cannot be negative, got -16GiB`]);
    expect(stdout).toContain('hint: write the amount without a minus sign');
    expect(stdout).toContain(': 1 error');
    expect(status).toBe(1);
  });

  test('a non-ASCII name used twice is one error with an ASCII hint, not five', () => {
    const { status, stdout, file } = pipecCheck(
      'ascii.pipe',
      variant(['layer fc1 = Dense', 'layer größe = Dense'], ['s0 on worker[0] = fc1', 's0 on worker[0] = größe']),
    );
    expect(errorLines(stdout)).toEqual([`${file}:7:9: error PIPE1012: the name 'größe' has characters outside ASCII: 'ö', 'ß'`]);
    expect(stdout).toContain('hint: names are ASCII: letters a–z and A–Z, digits and underscore');
    expect(stdout).toContain(`${file}:30:23: also used here`);
    expect(stdout).toContain(': 1 error');
    expect(status).toBe(1);
  });

  test("a missing comma between recompute's stages says so", () => {
    const { status, stdout, file } = pipecCheck('comma.pipe', variant(['  schedule 1f1b\n', '  schedule 1f1b\n  recompute s0 s1\n']));
    expect(errorLines(stdout)).toEqual([`${file}:36:16: error PIPE1010: missing ',' between the stages 's0' and 's1'`]);
    expect(stdout).toContain('hint: separate the stages with commas: recompute s0, s1');
    expect(status).toBe(1);
  });
});
