import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../runtime/backends.ts';
import { createOptimizer, learningRate } from '../../runtime/optimizers.ts';
import { ParameterTable } from '../../runtime/parameters.ts';

async function oneParameter(optimizer: string, args: Record<string, number>, gradients: number[]): Promise<number> {
  await useBackend('cpu');
  const table = new ParameterTable([{ name: 'w', shape: [1], init: { kind: 'ones' } }], 0);
  const opt = createOptimizer({ name: optimizer, args });
  for (const g of gradients) {
    table.accumulate('w', tf.tensor([g]));
    opt.apply(table);
  }
  const value = (await table.get('w').data())[0];
  table.dispose();
  return value;
}

describe('optimizers', () => {
  it('sgd, momentum and adam follow their update rules', async () => {
    expect(await oneParameter('sgd', { lr: 0.1 }, [2, 2])).toBeCloseTo(1 - 0.4, 6);
    // v1 = 2, v2 = 0.9·2 + 2 = 3.8: w = 1 - 0.1·(2 + 3.8)
    expect(await oneParameter('momentum', { lr: 0.1, momentum: 0.9 }, [2, 2])).toBeCloseTo(1 - 0.58, 6);
    // Adam's first step moves by lr whatever the gradient's size.
    expect(await oneParameter('adam', { lr: 0.01 }, [123])).toBeCloseTo(1 - 0.01, 5);
  });

  it('decay_steps gives a cosine schedule from lr to 0', async () => {
    const lr = learningRate(0.1, 10);
    expect(lr(1)).toBeCloseTo(0.1, 10);
    expect(lr(6)).toBeCloseTo(0.05, 10);
    expect(lr(11)).toBeCloseTo(0, 10);
    expect(lr(50)).toBeCloseTo(0, 10);
    expect(learningRate(0.1, undefined)(1000)).toBe(0.1);
    // Second sgd step at lr(2) of a 2-step decay: 0.1 · (1 + cos(π/2)) / 2 = 0.05.
    expect(await oneParameter('sgd', { lr: 0.1, decay_steps: 2 }, [1, 1])).toBeCloseTo(1 - 0.1 - 0.05, 6);
  });
});
