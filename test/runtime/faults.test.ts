// Issue 12, part 6: checkpoints and faults as a user meets them, through
// `pipec train`: killed with SIGKILL while writing a checkpoint (the last
// good one survives and --resume continues from it), checkpoints that are
// truncated, bit-flipped or another program's (refused, nothing
// overwritten), a worker that dies mid-step, a NaN born in a W step, and
// an extern layer stuck in a loop in-process (--op-timeout).

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import { smallMlpProgram } from '../helpers/smallProgram.ts';

const PROGRAM = (seed: number) => smallMlpProgram({ seed });

const directory = mkdtempSync(join(tmpdir(), 'pipec-faults-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const program = join(directory, 'small.pipe');
const otherProgram = join(directory, 'other.pipe');
writeFileSync(program, PROGRAM(2));
writeFileSync(otherProgram, PROGRAM(3));

const pipecArgs = (...args: string[]) => ['bin/pipec.js', ...args];
const env = { ...process.env, NO_COLOR: '1' };

/** `pipec ARGS` in this process (what bin/pipec.js runs), its output captured. */
async function pipec(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { stdout += String(chunk); return true; });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { stderr += String(chunk); return true; });
  try {
    return { code: await main(['node', 'pipec', ...args]), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The step recorded in a checkpoint file's body. */
const checkpointStep = (folder: string): number => {
  const text = readFileSync(join(folder, 'checkpoint.json'), 'utf8');
  return JSON.parse(text.slice(text.indexOf('\n') + 1)).step;
};
const temporaries = (folder: string) => readdirSync(folder).filter((name) => name.endsWith('.tmp'));

describe('pipec train killed while it writes a checkpoint', () => {
  test('the last good checkpoint survives, and --resume continues from it and clears the killed run\'s temporary file', async () => {
    const checkpoints = join(directory, 'killed');
    // The second checkpoint write (at the end of step 4) stops between its temporary file and the rename: kill it there.
    const child = spawn(process.execPath, pipecArgs('train', program, '--in-process', '--steps', '4', '--checkpoint-every', '2', '--checkpoint', checkpoints), {
      env: { ...env, PIPEC_TEST_HOLD_CHECKPOINT_WRITE: '2' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('pipec test hold:')) resolve();
      });
      child.on('exit', () => reject(new Error(`pipec train ended before the hold:\n${stderr}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    expect(checkpointStep(checkpoints)).toBe(2);
    expect(temporaries(checkpoints)).toEqual([`.checkpoint.json.${child.pid}.tmp`]);

    const resumed = spawnSync(process.execPath, pipecArgs('train', program, '--in-process', '--steps', '4', '--resume', checkpoints, '--checkpoint', checkpoints, '--json'), { env, encoding: 'utf8' });
    expect(resumed.status, resumed.stderr).toBe(0);
    const summary = JSON.parse(resumed.stdout);
    expect(summary.startStep).toBe(2);
    expect(summary.losses).toHaveLength(4);
    expect(checkpointStep(checkpoints)).toBe(4);
    expect(temporaries(checkpoints)).toEqual([]);
  }, 60_000);
});

describe('pipec train --resume refuses a damaged or foreign checkpoint and overwrites nothing', () => {
  const good = join(directory, 'good');

  test.each([
    ['truncated', (text: string) => text.slice(0, Math.floor(text.length * 0.6)), /PIPE6009: .* is corrupt or truncated/],
    ['bit-flipped', (text: string) => {
      const at = text.indexOf('"base64":"') + 20;
      return text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ 0x01) + text.slice(at + 1);
    }, /PIPE6009: .* is corrupt or truncated \(sha256/],
  ])('a %s checkpoint', async (kind, damage, message) => {
    if (!existsSync(good)) expect((await pipec('train', program, '--in-process', '--steps', '2', '--checkpoint', good)).code).toBe(0);
    const folder = join(directory, `damaged-${kind}`);
    mkdirSync(folder);
    const damaged = damage(readFileSync(join(good, 'checkpoint.json'), 'utf8'));
    writeFileSync(join(folder, 'checkpoint.json'), damaged);
    const result = await pipec('train', program, '--in-process', '--steps', '4', '--resume', folder, '--checkpoint', folder);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stdout).not.toContain('step ');
    expect(readFileSync(join(folder, 'checkpoint.json'), 'utf8')).toBe(damaged);
  });

  test('another program\'s checkpoint', async () => {
    const folder = join(directory, 'foreign');
    expect((await pipec('train', otherProgram, '--in-process', '--steps', '1', '--checkpoint', folder)).code).toBe(0);
    const before = readFileSync(join(folder, 'checkpoint.json'), 'utf8');
    const result = await pipec('train', program, '--in-process', '--steps', '2', '--resume', folder, '--checkpoint', folder);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/PIPE6009: .* was written for a different model, optimizer, seed, batch or data/);
    expect(readFileSync(join(folder, 'checkpoint.json'), 'utf8')).toBe(before);
  });
});

describe('faults during a step name where they happened', () => {
  // The fixtures' extern layers lie beside them, inside the repository (the project pipec finds).
  const fixtures = 'test/fixtures/faults';

  test('a worker that dies mid-step is named with its step, device and instruction', () => {
    const result = spawnSync(process.execPath, pipecArgs('train', join(fixtures, 'worker-exits.pipe'), '--workers', '--steps', '1'), { env, encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('pipec train: error PIPE6002: step 1, device worker[1] (#1), instruction 2 forward, stage 1, microbatch 0: the worker exited with code 7\n');
  }, 60_000);

  test('a NaN born in a W step stops training at that W: no "loss NaN", no checkpoint', async () => {
    const checkpoints = join(directory, 'nan');
    const result = await pipec('train', join(fixtures, 'weight-gradient-nan.pipe'), '--in-process', '--checkpoint', checkpoints);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("pipec train: error PIPE6004: step 1, device worker[1] (#1), instruction 12 backward_weight, stage 1, microbatch 0: the weight gradient of 'odd/w' contains NaN or Inf\n");
    expect(result.stdout).not.toMatch(/loss NaN|done:/);
    expect(existsSync(join(checkpoints, 'checkpoint.json'))).toBe(false);
  });

  test('in-process, --op-timeout interrupts an extern layer stuck in a synchronous loop', async () => {
    const result = await pipec('train', join(fixtures, 'stuck.pipe'), '--in-process', '--op-timeout', '0.3');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pipec train: error PIPE6251: step 1, device worker[1] (#1), instruction 2 forward, stage 1, microbatch 0: forward did not finish within 0.3 s (--op-timeout 0.3); the run was stopped\n');
  });
});
