// `pipec export` of a program with frozen layers is refused with PIPE6440 at
// the stage and writes nothing: PyTorch's schedules run a backward for every
// stage a rank holds, so a forward-only stage would wait for gradients that
// are never sent, and the generated stage modules would train the frozen
// parameters. The rendered refusal is kept beside the golden diagnostics.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExport } from '../../cli/commands/export.ts';
import { torchProgramExport } from '../helpers/torchExport.ts';

const SAMPLE = path.join('samples', 'frozen_encoder.pipe');

describe('export of frozen layers and stages', () => {
  it('--torch-csv refuses a forward-only stage with PIPE6440 at its stage and returns no CSV', async () => {
    const result = runExport(SAMPLE, { comms: false, format: 'text', color: false, unit: true });
    expect(result.exitCode).toBe(1);
    expect(result.csv).toBeUndefined();
    expect(result.errorOutput).toContain('samples/frozen_encoder.pipe:31:5: error PIPE6440');
    await expect(result.errorOutput).toMatchFileSnapshot('../cases/export/PIPE6440-torch-csv-frozen-prefix.txt');
  });

  it('--torch DIR refuses a frozen layer in a trained stage and makes no directory', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'pipec-frozen-export-'));
    const file = path.join(folder, 'middle.pipe');
    // The encoder trains; the first hidden layer, in the second stage, is frozen.
    writeFileSync(file, readFileSync(SAMPLE, 'utf8').replace('frozen layer encoder', 'layer encoder').replace('  repeat i in 0..2 {\n    layer hidden[i] = Dense(units: 256, activation: relu)\n  }', '  frozen layer hidden[0] = Dense(units: 256, activation: relu)\n  layer hidden[1] = Dense(units: 256, activation: relu)'));
    const directory = path.join(folder, 'program');
    const { code, output } = await torchProgramExport(file, directory);
    expect(code).toBe(1);
    expect(existsSync(directory)).toBe(false);
    expect(output).toContain('error PIPE6440');
    expect(output).toContain("stage 's1': it holds a frozen layer");
  });
});
