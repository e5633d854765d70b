// `--watch` as a user runs it: the command in a child process, the file and
// a file it imports edited underneath it, the new output awaited, then the
// process killed. It must never exit on an error in the file.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';

const directory = mkdtempSync(path.join(tmpdir(), 'pipec-watch-'));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill();
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const cluster = (devices: number) => `cluster local {
  device gpu[0..${devices}] memory 16GiB speed 100TFLOPS
  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us
}
`;

const program = (microbatches: number) => `import "./cluster.pipe"

model mlp {
  input x: f32[batch, 784]
  target y: i32[batch]
  layer fc1 = Dense(units: 64, activation: relu)
  layer out = Dense(units: 10)
  loss softmax_cross_entropy(out, y)
}

pipeline train {
  model mlp
  cluster local
  batch 32 microbatches ${microbatches}
  stages {
    s0 on gpu[0] = fc1
    s1 on gpu[1] = out
  }
  schedule 1f1b
  optimizer sgd(lr: 0.1)
}
`;

/** Starts `pipec ARGS --watch`; `until(pattern)` waits for the output so far to match, and returns it. */
function watching(...args: string[]) {
  const child = spawn(process.execPath, ['bin/pipec.js', ...args, '--watch'], { env: { ...process.env, NO_COLOR: '1' } });
  children.push(child);
  let output = '';
  const waiters: (() => void)[] = [];
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let exited: number | null | undefined;
  child.on('exit', (code) => {
    exited = code;
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    /** Resolves when the whole output matches `pattern` `times` times; rejects if the process exits first. */
    async until(pattern: RegExp, times = 1): Promise<string> {
      const global = new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`);
      // Not a speed bound: long enough for a loaded machine, short enough to say what was printed.
      const giveUp = Date.now() + 20_000;
      for (;;) {
        if ((output.match(global) ?? []).length >= times) return output;
        if (exited !== undefined) throw new Error(`pipec exited (${exited}) while waiting for ${pattern}:\n${output}`);
        if (Date.now() > giveUp) throw new Error(`no ${pattern} (×${times}) in:\n${output}`);
        await new Promise<void>((wake) => {
          waiters.push(wake);
          setTimeout(wake, 500);
        });
      }
    },
  };
}

/** Writes a file the way many editors do: a new file renamed over the old one. */
function save(file: string, text: string): void {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}

describe('--watch', () => {
  test('check re-runs when the file or its import changes, and keeps running through errors', async () => {
    const main = path.join(directory, 'main.pipe');
    const imported = path.join(directory, 'cluster.pipe');
    writeFileSync(imported, cluster(2));
    writeFileSync(main, program(4));
    const run = watching('check', main);
    await run.until(/main\.pipe: ok: pipeline train, 2 stages on 2 devices/);
    await run.until(/watching 2 files \(ok\)/);
    // The imported cluster loses its second device: an error, and pipec keeps watching.
    save(imported, cluster(1));
    await run.until(/error PIPE\d{4}/);
    await run.until(/watching 2 files \(exit 1\)/);
    save(imported, cluster(2));
    await run.until(/main\.pipe: ok: pipeline train/, 2);
    // A syntax error in the file itself, then its fix.
    save(main, program(4).replace('layer out', 'layer out out'));
    await run.until(/main\.pipe:\d+:\d+: error PIPE1\d{3}/);
    save(main, program(4));
    const output = await run.until(/main\.pipe: ok: pipeline train/, 3);
    expect(output).toContain('cluster.pipe changed');
  }, 60_000);

  test('simulate prints the new makespan after an edit', async () => {
    const main = path.join(directory, 'sim.pipe');
    writeFileSync(path.join(directory, 'cluster.pipe'), cluster(2));
    writeFileSync(main, program(4));
    const run = watching('simulate', main, '--unit');
    const first = await run.until(/watching/);
    expect(first).toMatch(/makespan 15, bubble/);
    save(main, program(8));
    await run.until(/makespan 27, bubble/);
  }, 60_000);

  test('show rewrites its picture after an edit', async () => {
    const main = path.join(directory, 'show.pipe');
    const picture = path.join(directory, 'show.svg');
    writeFileSync(path.join(directory, 'cluster.pipe'), cluster(2));
    writeFileSync(main, program(2));
    const run = watching('show', main, '--unit', '-o', picture);
    await run.until(/watching/);
    expect(readFileSync(picture, 'utf8')).toContain('1f1b — makespan 9');
    save(main, program(4));
    await run.until(/wrote .*show\.svg/, 2);
    expect(readFileSync(picture, 'utf8')).toContain('1f1b — makespan 15');
  }, 60_000);
});
