// The `precision` setting: memory counted in the declared number formats.
// fp32 (the default): 4-byte parameters, gradients and Adam moments.
// bf16/fp16: Megatron/ZeRO mixed precision, 2 + 2 bytes of parameter and
// gradient and 4 + 4 + 4 of fp32 master weights and Adam moments per
// parameter, float activations in 2 bytes. The runtime trains fp32 only and
// refuses the others (PIPE6380).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { verify } from '../../runtime/index.ts';
import { compileText } from '../runtime/helpers/compileText.ts';

const MLP = readFileSync(new URL('../../samples/mlp.pipe', import.meta.url), 'utf8').replace(/data mnist\([^)]*\)/, 'data synthetic(examples: 256, seed: 1)');
const GPT = readFileSync(new URL('../../samples/gpt.pipe', import.meta.url), 'utf8');

function withPrecision(text: string, precision: string | undefined): string {
  return precision === undefined ? text : text.replace(/(\n {2}optimizer [^\n]*)/, `$1\n  precision ${precision}`);
}

describe('precision', () => {
  it('fp32 is the default and counts 4 bytes for each of parameter, gradient, and Adam moment', () => {
    const implicit = compileText(MLP);
    const explicit = compileText(withPrecision(MLP, 'fp32'));
    expect(explicit.devices.map((d) => d.memory)).toEqual(implicit.devices.map((d) => d.memory));
    expect(implicit.precision).toBeUndefined();
    // fc1 = Dense(784 → 256) with bias on device 0.
    const parameters = 784 * 256 + 256;
    expect(implicit.devices[0].memory).toMatchObject({ weights: 4 * parameters, gradients: 4 * parameters, optimizerState: 8 * parameters });
  });

  for (const precision of ['bf16', 'fp16'] as const) {
    it(`${precision}: 2 + 2 + 12 bytes a parameter with Adam, activations halved`, () => {
      const fp32 = compileText(MLP);
      const mixed = compileText(withPrecision(MLP, precision));
      expect(mixed.precision).toBe(precision);
      const parameters = 784 * 256 + 256;
      expect(mixed.devices[0].memory).toMatchObject({ weights: 2 * parameters, gradients: 2 * parameters, optimizerState: 12 * parameters });
      mixed.devices.forEach((device, d) => expect(device.memory.activations).toBe(fp32.devices[d].memory.activations / 2));
    });
  }

  it('integer token ids keep 4 bytes under mixed precision', () => {
    if (!GPT.includes('Embedding')) throw new Error('the gpt sample no longer starts with an Embedding');
    const fp32 = compileText(GPT);
    const bf16 = compileText(withPrecision(GPT, 'bf16'));
    // Device 0 holds the embedding, whose stash includes the ids: more than half of fp32's.
    expect(bf16.devices[0].memory.activations).toBeGreaterThan(fp32.devices[0].memory.activations / 2);
    expect(bf16.devices[0].memory.activations).toBeLessThan(fp32.devices[0].memory.activations);
  });

  it('the runtime refuses to train a bf16 program in fp32 (PIPE6380)', async () => {
    const ir = compileText(withPrecision(MLP, 'bf16'));
    await expect(verify(ir, { baseDirectory: process.cwd() })).rejects.toMatchObject({ code: 'PIPE6380' });
  });
});
