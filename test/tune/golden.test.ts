// Golden tune output: what `pipec tune --max-stages-per-device 1` prints (no
// colour) for each fixture under test/tune/fixtures/ that nothing fits,
// beside it as .tune.txt. Update with `npx vitest run -u` and review the
// diff: the span at the memory declaration, the closest configuration, the
// fixes.

import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runTune } from '../../cli/commands/tune.ts';

describe('golden tune diagnostics', () => {
  for (const name of ['nothing_fits']) {
    test(name, async () => {
      const result = runTune(path.join('test', 'tune', 'fixtures', `${name}.pipe`), { top: 10, format: 'text', maxStagesPerDevice: 1, color: false });
      expect(result.exitCode).toBe(1);
      await expect(result.errorOutput).toMatchFileSnapshot(path.join('fixtures', `${name}.tune.txt`));
    });
  }
});
