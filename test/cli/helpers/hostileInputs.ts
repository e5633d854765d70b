// Runs every pipec command against the inputs a user gets wrong (a missing
// file, a folder, an unreadable file, a binary file, an output in a missing
// folder), each through cli/main.ts's main() in this one process, and prints
// one JSON line per case: what went to stdout and stderr, the exit code, and
// whether main() threw (which bin/pipec.js would print as a stack trace).
// A separate process so the test can drop root privileges: as root a
// chmod 000 file is still readable. Usage: node hostileInputs.ts DIR

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../../../cli/main.ts';

const directory = process.argv[2];
const sample = path.resolve('samples/mlp.pipe');

const inputs = {
  missing: path.join(directory, 'missing.pipe'),
  folder: path.join(directory, 'folder.pipe'),
  unreadable: path.join(directory, 'unreadable.pipe'),
  binary: path.join(directory, 'binary.pipe'),
  underAFile: path.join(directory, 'binary.pipe', 'inside.pipe'),
} as const;

function prepare(): void {
  mkdirSync(inputs.folder, { recursive: true });
  writeFileSync(inputs.unreadable, 'model m {}\n');
  chmodSync(inputs.unreadable, 0o000);
  writeFileSync(inputs.binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x10, 0x80, 0x81]));
}

const missingFolder = path.join(directory, 'no-such-folder', 'out');

/** Each command with a FILE (or, for backends and schedule, the argument they take) and with an output in a missing folder. */
const commands: Record<string, { readonly withFile: (file: string) => string[]; readonly withOutput?: string[]; readonly inputs?: readonly (keyof typeof inputs)[] }> = {
  check: { withFile: (file) => ['check', file], withOutput: ['check', '--torch-csv', `${missingFolder}.csv`] },
  fmt: { withFile: (file) => ['fmt', file], withOutput: ['fmt', '--write', `${missingFolder}.pipe`] },
  compile: { withFile: (file) => ['compile', file], withOutput: ['compile', sample, '-o', `${missingFolder}.json`] },
  schedule: { withFile: (file) => ['schedule', file, '-p', '2', '-m', '2'], withOutput: ['schedule', '1f1b', '-p', '2', '-m', '2', '-o', `${missingFolder}.txt`] },
  export: { withFile: (file) => ['export', file, '--torch-csv', path.join(directory, 'out.csv')], withOutput: ['export', sample, '--torch-csv', `${missingFolder}.csv`] },
  simulate: { withFile: (file) => ['simulate', file], withOutput: ['simulate', sample, '--costs', `${missingFolder}.json`] },
  show: { withFile: (file) => ['show', file], withOutput: ['show', sample, '-o', `${missingFolder}.svg`] },
  tune: { withFile: (file) => ['tune', file], withOutput: ['tune', sample, '-o', `${missingFolder}.pipe`] },
  train: { withFile: (file) => ['train', file, '--steps', '1'], withOutput: ['train', sample, '--steps', '1', '--in-process', '--trace', `${missingFolder}.json`] },
  'train --checkpoint': { withFile: (file) => ['train', sample, '--steps', '1', '--in-process', '--checkpoint', path.join(file, 'checkpoints')], inputs: ['unreadable', 'binary', 'underAFile'] },
  'train --resume': { withFile: (file) => ['train', sample, '--steps', '1', '--in-process', '--resume', file] },
  profile: { withFile: (file) => ['profile', file], withOutput: ['profile', sample, '--isolated', '--repeats', '1', '-o', `${missingFolder}.json`] },
  verify: { withFile: (file) => ['verify', file] },
  backends: { withFile: (file) => ['backends', file] },
};

async function runCase(args: readonly string[]): Promise<{ exitCode: number | 'threw'; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => { stdout += String(chunk); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    const exitCode = await main(['node', 'pipec', ...args]);
    return { exitCode, stdout, stderr };
  } catch (error) {
    return { exitCode: 'threw', stdout, stderr: `${stderr}${error instanceof Error ? error.stack : String(error)}` };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
}

prepare();
const only = process.argv[3];
for (const [command, { withFile, withOutput, inputs: chosen }] of Object.entries(commands)) {
  if (only !== undefined && only !== command) continue;
  for (const [input, file] of Object.entries(inputs)) {
    if (chosen !== undefined && !chosen.includes(input as keyof typeof inputs)) continue;
    process.stdout.write(`${JSON.stringify({ command, input, args: withFile(file), ...(await runCase(withFile(file))) })}\n`);
  }
  if (withOutput) process.stdout.write(`${JSON.stringify({ command, input: 'missingOutputFolder', args: withOutput, ...(await runCase(withOutput)) })}\n`);
}
