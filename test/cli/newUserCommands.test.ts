// What a new user met with the commands around the compiler (core issue),
// each run as a process the way a user types it: message, location and exit code.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

const directory = mkdtempSync(path.join(tmpdir(), 'pipec-commands-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

function pipec(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['bin/pipec.js', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function file(name: string, text: string): string {
  const where = path.join(directory, name);
  writeFileSync(where, text);
  return where;
}

describe('commands a new user ran', () => {
  test('show --compare on an interleaved program re-splits for the one-stage-per-device schedules', () => {
    const result = pipec('show', 'samples/interleaved.pipe', '--compare', 'interleaved_1f1b,1f1b,zb_h1', '--format', 'text');
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('schedule 1f1b (re-split: 4 stages)');
    expect(result.stdout).toContain('schedule zb_h1 (re-split: 4 stages)');
  });

  test('a re-split that cannot work is reported at a real line of the user file', () => {
    const mlp = file('mlp.pipe', readFileSync('samples/mlp.pipe', 'utf8'));
    const result = pipec('show', mlp, '--compare', '1f1b,zb_v', '--format', 'text');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('pipec: with schedule zb_v (8 stages, placement v):');
    expect(result.stderr).toContain(`${mlp}:29:3: error PIPE3020`);
    // Every code-frame line shown is a line of the file.
    const lines = readFileSync(mlp, 'utf8').split('\n');
    for (const match of result.stderr.matchAll(/^\s+>?\s*(\d+) \| (.*)$/gm)) expect(lines[Number(match[1]) - 1]).toBe(match[2]);
  });

  test.each(['simulate', 'show', 'tune'])('%s on an empty file or a file with only a model says why (exit 1)', (command) => {
    const empty = pipec(command, file('empty.pipe', ''));
    expect(empty.status).toBe(1);
    expect(empty.stderr).toContain(`pipec: nothing to ${command}:`);
    expect(empty.stderr).toContain('declares nothing');
    const model = readFileSync('samples/mlp.pipe', 'utf8').match(/^model[\s\S]*?^}/m)![0];
    const onlyModel = pipec(command, file('model.pipe', model));
    expect(onlyModel.status).toBe(1);
    expect(onlyModel.stderr).toContain('declares no pipeline (it has model mlp)');
  });

  test('an output in a missing folder is one line, exit 2, no stack trace', () => {
    const show = pipec('show', 'samples/mlp.pipe', '-o', '/nonexistent/dir/x.svg');
    expect(show.status).toBe(2);
    expect(show.stderr).toBe('pipec: cannot write /nonexistent/dir/x.svg: its folder does not exist\n');
    const tune = pipec('tune', 'samples/mlp.pipe', '-o', '/nonexistent/x.pipe');
    expect(tune.status).toBe(2);
    expect(tune.stderr).toBe('pipec: cannot write /nonexistent/x.pipe: its folder does not exist\n');
  });

  test('an unknown schedule name is a usage error with a suggestion', () => {
    const result = pipec('schedule', 'zb-q', '-p', '4', '-m', '8');
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^pipec: unknown schedule 'zb-q'; did you mean 'zb_v'\?/);
    expect(result.stderr).not.toContain('std:schedules');
  });

  test('schedule --cost reports the costs asked for, with the makespan simulate gives', () => {
    const args = ['-p', '4', '-m', '8', '--memory', '6', '--cost', 'F=1,I=1,W=1,C=0.5'];
    const text = pipec('schedule', 'auto', ...args, '--format', 'text').stdout;
    const simulated = JSON.parse(pipec('simulate', '--schedule', 'auto', ...args, '--format', 'json').stdout);
    expect(text).toContain('costs F=1,I=1,W=1,C=0.5: makespan');
    expect(text).not.toContain('unit costs');
    expect(text).toContain(`makespan ${simulated.makespan},`);
  });

  test('errors past --max-errors are counted, and the cap can be changed', () => {
    const layers = Array.from({ length: 22 }, (_, i) => `  layer a${i} = Dense(units: q${i})`).join('\n');
    const many = file('many.pipe', `model m {\n  input x: f32[batch, 4]\n  target y: i32[batch]\n${layers}\n  loss softmax_cross_entropy(a21, y)\n}\n`);
    const capped = pipec('check', many);
    expect(capped.status).toBe(1);
    expect(capped.stdout.match(/error PIPE/g)).toHaveLength(20);
    expect(capped.stdout).toContain('… and 2 more errors not shown (showing the first 20; --max-errors N to change that)');
    expect(capped.stdout).toContain(': 22 errors');
    const three = pipec('check', many, '--max-errors', '3');
    expect(three.stdout.match(/error PIPE/g)).toHaveLength(3);
    expect(three.stdout).toContain('… and 19 more errors');
  });

  test('--format json everywhere, --json kept as its alias', () => {
    for (const args of [['check', 'samples/mlp.pipe'], ['simulate', 'samples/mlp.pipe'], ['schedule', '1f1b', '-p', '2', '-m', '2']]) {
      const formatted = pipec(...args, '--format', 'json');
      const alias = pipec(...args, '--json');
      expect(formatted.status).toBe(0);
      expect(JSON.parse(alias.stdout)).toEqual(JSON.parse(formatted.stdout));
    }
    for (const command of ['train', 'verify', 'backends']) expect(pipec(command, '--help').stdout).toContain('--format <format>');
  });

  test("check --help says every pipeline is checked; --pipeline only narrows the proof", () => {
    const help = pipec('check', '--help').stdout;
    expect(help).not.toContain('in depth');
    expect(help).toContain('every pipeline');
  });
});
