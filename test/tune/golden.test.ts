// Golden tune output: what `pipec tune --max-stages-per-device 1 [flags]`
// prints (no colour) for fixtures under test/tune/fixtures/ that nothing
// fits, beside them as NAME[.flags].tune.txt. Update with `npx vitest run -u`
// and review the diff: the span at the memory declaration, the closest
// configuration, the fixes.

import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runTune, type TuneCommandOptions } from '../../cli/commands/tune.ts';

const cases: readonly { readonly name: string; readonly flags: string; readonly options: Partial<TuneCommandOptions> }[] = [
  // Every knob on: nothing helps but larger devices.
  { name: 'nothing_fits', flags: '', options: {} },
  // The replicas the program declares overflow; the hint names the split that fits.
  { name: 'deeper_pipeline', flags: '.no-replicas', options: { replicas: false } },
  // Recompute off: the hint says recompute on the stage that overflows would do.
  { name: 'recompute_only', flags: '.no-recompute.no-replicas', options: { recompute: false, replicas: false } },
];

describe('golden tune diagnostics', () => {
  for (const { name, flags, options } of cases) {
    test(`${name}${flags}`, async () => {
      const result = runTune(path.join('test', 'tune', 'fixtures', `${name}.pipe`), { top: 10, format: 'text', maxStagesPerDevice: 1, color: false, ...options });
      expect(result.exitCode).toBe(1);
      expect(result.errorOutput).toContain('error PIPE5420');
      await expect(result.errorOutput).toMatchFileSnapshot(path.join('fixtures', `${name}${flags}.tune.txt`));
    });
  }
});
