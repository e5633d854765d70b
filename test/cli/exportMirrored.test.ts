// `pipec export` of a mirrored placement (two model copies of every stage
// sharing the ranks) is refused with a located diagnostic and writes
// nothing: PyTorch keys stages by index per rank, so a CSV or a generated
// program would train the two copies apart and never sum their gradients.
// The rendered refusals are kept beside the golden diagnostics.

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExport } from '../../cli/commands/export.ts';
import { torchProgramExport } from '../helpers/torchExport.ts';

const SAMPLE = path.join('samples', 'dualpipe.pipe');

describe('export of two model copies on one rank', () => {
  it('--torch-csv refuses with PIPE6300 at the stages line and returns no CSV', async () => {
    const result = runExport(SAMPLE, { comms: false, format: 'text', color: false, unit: true });
    expect(result.exitCode).toBe(1);
    expect(result.csv).toBeUndefined();
    expect(result.errorOutput).toContain('samples/dualpipe.pipe:30:3: error PIPE6300');
    await expect(result.errorOutput).toMatchFileSnapshot('../cases/export/PIPE6300-torch-csv-two-copies.txt');
  });

  it('--torch DIR refuses with PIPE6301 and makes no directory', async () => {
    const directory = path.join(mkdtempSync(path.join(tmpdir(), 'pipec-mirror-')), 'program');
    const { code, output } = await torchProgramExport(SAMPLE, directory);
    expect(code).toBe(1);
    expect(existsSync(directory)).toBe(false);
    expect(output).toContain('error PIPE6301');
    await expect(output).toMatchFileSnapshot('../cases/export/PIPE6301-torch-program-two-copies.txt');
  });
});
