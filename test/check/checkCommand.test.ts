// `pipec check`: exit 0 clean (warnings allowed), 1 errors, 2 usage or a
// missing file; text and JSON output.

import { describe, expect, test, vi } from 'vitest';
import { runCheck } from '../../cli/commands/check.ts';
import { main } from '../../cli/main.ts';

const plain = { format: 'text' as const, color: false };

describe('pipec check', () => {
  test('a clean sample exits 0 and says what it checked', () => {
    const result = runCheck(['samples/mlp.pipe'], plain);
    expect(result.exitCode).toBe(0);
    expect(result.output).toBe('samples/mlp.pipe: ok: pipeline train_mlp, 4 stages on 4 devices, schedule 1f1b\n');
  });

  test('errors exit 1 with located diagnostics and a summary', () => {
    const result = runCheck(['test/cases/diagnostics/PIPE2004-unknown-argument.pipe'], plain);
    expect(result.exitCode).toBe(1);
    expect(result.output).toContain("test/cases/diagnostics/PIPE2004-unknown-argument.pipe:5:32: error PIPE2004: Dense has no argument 'activaton'");
    expect(result.output.trimEnd().endsWith('test/cases/diagnostics/PIPE2004-unknown-argument.pipe: 1 error')).toBe(true);
  });

  test('warnings alone exit 0', () => {
    const result = runCheck(['test/cases/diagnostics/PIPE2042-empty-repeat.pipe'], plain);
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain('warning PIPE2042');
    expect(result.output).toContain(': ok: pipeline train, 2 stages on 2 devices, schedule 1f1b (1 warning)');
  });

  test('a missing file is a usage error (exit 2) with a clear message', () => {
    const result = runCheck(['samples/nope.pipe', 'samples/mlp.pipe'], plain);
    expect(result.exitCode).toBe(2);
    expect(result.errorOutput).toBe('pipec: samples/nope.pipe does not exist\n');
    expect(result.output).toContain('samples/mlp.pipe: ok');
  });

  test('--format json gives one entry per file with 1-based locations', () => {
    const result = runCheck(['test/cases/diagnostics/PIPE2004-unknown-argument.pipe', 'samples/mlp.pipe'], { ...plain, format: 'json' });
    const parsed = JSON.parse(result.output);
    expect(parsed.map((entry: { ok: boolean }) => entry.ok)).toEqual([false, true]);
    expect(parsed[0].diagnostics[0]).toMatchObject({ code: 'PIPE2004', line: 5, column: 32, endColumn: 41 });
  });

  test('--pipeline selects the pipeline that is reported', () => {
    const result = runCheck(['samples/custom_schedule.pipe'], { ...plain, pipeline: 'train_rules' });
    expect(result.output).toContain('pipeline train_rules');
  });

  test('through the command line: exit codes reach main()', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const writeError = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['node', 'pipec', 'check', '--no-color', 'samples/mlp.pipe'])).toBe(0);
      expect(await main(['node', 'pipec', 'check', 'test/cases/diagnostics/PIPE2036-unknown-schedule.pipe'])).toBe(1);
      expect(await main(['node', 'pipec', 'check', 'missing.pipe'])).toBe(2);
      expect(await main(['node', 'pipec', 'check', '--format', 'xml', 'samples/mlp.pipe'])).toBe(2);
    } finally {
      write.mockRestore();
      writeError.mockRestore();
    }
  });
});
