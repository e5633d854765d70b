// `pipec export` of a program whose skip connections cross stages is
// refused with a located diagnostic and writes nothing: PyTorch's
// PipelineStage passes one activation to the next stage and one gradient
// back, so a skip to a later stage has no channel there. A skip inside one
// stage is exported: the generated Sequence wires it by name.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExport } from '../../cli/commands/export.ts';
import { torchProgramExport } from '../helpers/torchExport.ts';

const SAMPLE = path.join('samples', 'unet.pipe');

describe('export of skip connections', () => {
  it('--torch-csv refuses cross-stage skips with PIPE6320 at the first merge\'s skip and returns no CSV', async () => {
    const result = runExport(SAMPLE, { comms: false, format: 'text', color: false, unit: true });
    expect(result.exitCode).toBe(1);
    expect(result.csv).toBeUndefined();
    expect(result.errorOutput).toContain('samples/unet.pipe:14:30: error PIPE6320');
    await expect(result.errorOutput).toMatchFileSnapshot('../cases/export/PIPE6320-torch-csv-skip-edges.txt');
  });

  it('--torch DIR refuses with PIPE6321 and makes no directory', async () => {
    const directory = path.join(mkdtempSync(path.join(tmpdir(), 'pipec-skip-')), 'program');
    const { code, output } = await torchProgramExport(SAMPLE, directory);
    expect(code).toBe(1);
    expect(existsSync(directory)).toBe(false);
    expect(output).toContain('error PIPE6321');
    await expect(output).toMatchFileSnapshot('../cases/export/PIPE6321-torch-program-skip-edges.txt');
  });

  it('a program whose skips stay inside stages exports, its merges wired by name', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'pipec-skip-inside-'));
    const file = path.join(folder, 'inside.pipe');
    writeFileSync(file, `model m {
  input x: f32[batch, 16]
  target y: f32[batch, 16]
  layer enc = Dense(units: 16, activation: relu)
  layer mid = Dense(units: 8, activation: relu)
  layer join = Concat(skip: enc)
  layer back = Add(skip: join)
  layer out = Dense(units: 16)
  loss mse(out, y)
}

cluster c {
  device gpu[0..2] memory 1GiB speed 1TFLOPS
  link gpu[*] <-> gpu[*] bandwidth 1GB/s latency 10us
}

pipeline p {
  model m
  cluster c
  batch 8 microbatches 2
  stages {
    s0 on gpu[0] = enc, mid, join
    s1 on gpu[1] = back, out
  }
  schedule 1f1b
  optimizer sgd(lr: 0.1)
  data synthetic(examples: 64)
}
`.replace('layer back = Add(skip: join)\n', '').replace('s1 on gpu[1] = back, out', 's1 on gpu[1] = out'));
    const directory = path.join(folder, 'program');
    const { code, output } = await torchProgramExport(file, directory);
    expect(output).toBe('');
    expect(code).toBe(0);
    expect(readFileSync(path.join(directory, 'model.py'), 'utf8')).toContain('Concat("join", skip="enc", axis=-1)');
  });
});
