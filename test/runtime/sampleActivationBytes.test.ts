// The transformer samples, trained for a step on the cpu backend: each
// device's measured peak of stashed activation bytes equals the compiler's
// prediction exactly, under a fused backward (1F1B, Chimera's two
// directions) and a split one (ZB-H1: I frees what only it needs, W the
// rest), with gradients equal to single-device training. The per-kind
// agreement underneath is test/runtime/layerRegistry.test.ts; this checks
// the stage sums (a layer's kept output shared with the next one's kept
// input, the embedding's integer ids) and the schedules' timing of frees.
// The samples' batches are cut to one example per microbatch, which keeps
// every layer and stage and scales every byte count alike.

import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../runtime/backends.ts';
import { verify } from '../../runtime/index.ts';
import { compileText } from './helpers/compileText.ts';

/** The sample's text with each [from, to] replaced, each required to occur. */
function sample(file: string, replacements: readonly (readonly [string, string])[]): string {
  return replacements.reduce((text, [from, to]) => {
    if (!text.includes(from)) throw new Error(`samples/${file} no longer contains '${from}'`);
    return text.replace(from, to);
  }, readFileSync(`samples/${file}`, 'utf8'));
}

const CASES: readonly { readonly name: string; readonly text: () => string; readonly schedule: string }[] = [
  { name: 'samples/gpt.pipe (1F1B)', schedule: '1f1b', text: () => sample('gpt.pipe', [['batch 32 microbatches 8', 'batch 8 microbatches 8']]) },
  {
    name: 'samples/gpt.pipe under ZB-H1', schedule: 'zb_h1',
    text: () => sample('gpt.pipe', [['batch 32 microbatches 8', 'batch 8 microbatches 8'], ['schedule 1f1b', 'schedule zb_h1']]),
  },
  { name: 'samples/chimera.pipe', schedule: 'chimera', text: () => sample('chimera.pipe', [['batch 64 microbatches 8', 'batch 8 microbatches 8']]) },
];

describe('the transformer samples stash exactly the predicted activation bytes (cpu)', () => {
  beforeAll(async () => { await useBackend('cpu'); });
  for (const { name, text, schedule } of CASES) {
    it(name, async () => {
      const ir = compileText(text());
      expect(ir.schedule).toBe(schedule);
      const result = await verify(ir, { baseDirectory: process.cwd() });
      expect(result.maxRelativeError).toBeLessThanOrEqual(1e-5);
      expect(result.predictedActivationBytes.every((bytes) => bytes > 0)).toBe(true);
      expect(result.peakActivationBytes).toEqual(result.predictedActivationBytes);
    });
  }
});
