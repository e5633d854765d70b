// `pipec export` of a vocabulary-parallel pipeline (`vocab_parallel head`) is
// refused with PIPE6340 at the setting and writes nothing: PyTorch's
// pipelining runs each stage on one rank and has no pass that spans every
// rank (the S and T passes, their exchange of statistics, the summed input
// gradient). The rendered refusals are kept beside the golden diagnostics.

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runExport } from '../../cli/commands/export.ts';
import { torchProgramExport } from '../helpers/torchExport.ts';

const SAMPLE = path.join('samples', 'gpt_vocab.pipe');

describe('export of a vocabulary-parallel output layer', () => {
  it('--torch-csv refuses with PIPE6340 at the vocab_parallel line and returns no CSV', async () => {
    const result = runExport(SAMPLE, { comms: false, format: 'text', color: false, unit: true });
    expect(result.exitCode).toBe(1);
    expect(result.csv).toBeUndefined();
    expect(result.errorOutput).toContain('samples/gpt_vocab.pipe:42:18: error PIPE6340');
    await expect(result.errorOutput).toMatchFileSnapshot('../cases/export/PIPE6340-torch-csv-vocab-parallel.txt');
  });

  it('--torch DIR refuses with PIPE6340 and makes no directory', async () => {
    const directory = path.join(mkdtempSync(path.join(tmpdir(), 'pipec-vocab-')), 'program');
    const { code, output } = await torchProgramExport(SAMPLE, directory);
    expect(code).toBe(1);
    expect(existsSync(directory)).toBe(false);
    expect(output).toContain('error PIPE6340');
  });
});
