// sgd, momentum and adam over a ParameterTable's accumulated gradients.

import * as tf from '@tensorflow/tfjs-core';
import type { ParameterTable } from './parameters.ts';
import type { Tensor } from './layers/types.ts';

export interface OptimizerSpec {
  readonly name: string;
  readonly args: Readonly<Record<string, number>>;
}

export interface Optimizer {
  /** Applies the accumulated gradients of `table` and clears them. */
  apply(table: ParameterTable): void;
  /** State tensors by name, for checkpoints. */
  state(): Map<string, Tensor>;
  readonly stepCount: number;
  restore(state: ReadonlyMap<string, Float32Array>, shapes: ReadonlyMap<string, readonly number[]>, stepCount: number): void;
  /** Frees the state and whatever else the optimizer holds in the engine. */
  dispose(): void;
}

/** Learning rate at a (1-based) step: constant, or cosine-decayed to 0 over `decay_steps`. */
export type LearningRate = (step: number) => number;

export function learningRate(base: number, decaySteps: number | undefined): LearningRate {
  if (!decaySteps) return () => base;
  return (step) => base * 0.5 * (1 + Math.cos(Math.PI * Math.min(step - 1, decaySteps) / decaySteps));
}

export function createOptimizer(spec: OptimizerSpec): Optimizer {
  const lr = learningRate(spec.args.lr ?? spec.args.learning_rate ?? 0.01, spec.args.decay_steps);
  switch (spec.name) {
    case 'sgd': return new MomentumOptimizer(lr, 0);
    case 'momentum': return new MomentumOptimizer(lr, spec.args.momentum ?? 0.9);
    case 'adam': return new AdamOptimizer(lr, spec.args.beta1 ?? 0.9, spec.args.beta2 ?? 0.999, spec.args.eps ?? spec.args.epsilon ?? 1e-8);
    default: throw new Error(`unknown optimizer '${spec.name}' (sgd, momentum, adam)`);
  }
}

abstract class StatefulOptimizer implements Optimizer {
  protected readonly slots = new Map<string, Tensor>();
  stepCount = 0;

  abstract apply(table: ParameterTable): void;

  state(): Map<string, Tensor> {
    return this.slots;
  }

  restore(state: ReadonlyMap<string, Float32Array>, shapes: ReadonlyMap<string, readonly number[]>, stepCount: number): void {
    for (const tensor of this.slots.values()) tensor.dispose();
    this.slots.clear();
    for (const [name, values] of state) {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`optimizer state '${name}' has no shape`);
      this.slots.set(name, tf.tensor(values, shape as number[], 'float32'));
    }
    this.stepCount = stepCount;
  }

  dispose(): void {
    for (const tensor of this.slots.values()) tensor.dispose();
    this.slots.clear();
  }

  protected replaceSlot(name: string, value: Tensor): void {
    this.slots.get(name)?.dispose();
    this.slots.set(name, value);
  }
}

class MomentumOptimizer extends StatefulOptimizer {
  private readonly schedule: LearningRate;
  private readonly momentum: number;
  constructor(lr: LearningRate, momentum: number) {
    super();
    this.schedule = lr;
    this.momentum = momentum;
  }

  apply(table: ParameterTable): void {
    this.stepCount++;
    const lr = this.schedule(this.stepCount);
    for (const name of table.names()) {
      const gradient = table.gradient(name);
      if (!gradient) continue;
      if (this.momentum === 0) {
        table.set(name, tf.tidy(() => tf.sub(table.get(name), tf.mul(gradient, lr))));
        continue;
      }
      const velocityName = `${name}#velocity`;
      const previous = this.slots.get(velocityName);
      const velocity = tf.tidy(() => (previous ? tf.add(tf.mul(previous, this.momentum), gradient) : gradient.clone()));
      this.replaceSlot(velocityName, velocity);
      table.set(name, tf.tidy(() => tf.sub(table.get(name), tf.mul(velocity, lr))));
    }
    table.clearGradients();
  }
}

class AdamOptimizer extends StatefulOptimizer {
  private readonly schedule: LearningRate;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  /** β1, 1-β1, β2, 1-β2 as tensors made once: a number operand is a new scalar tensor (an upload) on every op. */
  private constants: { beta1: Tensor; rest1: Tensor; beta2: Tensor; rest2: Tensor } | undefined;
  constructor(lr: LearningRate, beta1: number, beta2: number, epsilon: number) {
    super();
    this.schedule = lr;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon;
  }

  override dispose(): void {
    super.dispose();
    if (this.constants) tf.dispose(Object.values(this.constants));
    this.constants = undefined;
  }

  apply(table: ParameterTable): void {
    this.stepCount++;
    const correction1 = 1 - this.beta1 ** this.stepCount;
    const correction2 = 1 - this.beta2 ** this.stepCount;
    const lr = this.schedule(this.stepCount);
    // Kept: they outlive any scope the first step happens to run in.
    const constant = (value: number): Tensor => tf.keep(tf.scalar(value));
    this.constants ??= { beta1: constant(this.beta1), rest1: constant(1 - this.beta1), beta2: constant(this.beta2), rest2: constant(1 - this.beta2) };
    const { beta1, rest1, beta2, rest2 } = this.constants;
    // lr·m̂/(√v̂ + ε) = (lr·√c2/c1)·m/(√v + ε·√c2): the bias corrections fold into two scalars per step.
    const stepSize = tf.scalar((lr * Math.sqrt(correction2)) / correction1);
    const epsilon = tf.scalar(this.epsilon * Math.sqrt(correction2));
    for (const name of table.names()) {
      const gradient = table.gradient(name);
      if (!gradient) continue;
      const m0 = this.slots.get(`${name}#m`);
      const v0 = this.slots.get(`${name}#v`);
      const m = tf.tidy(() => (m0 ? tf.add(tf.mul(m0, beta1), tf.mul(gradient, rest1)) : tf.mul(gradient, rest1)));
      const v = tf.tidy(() => (v0 ? tf.add(tf.mul(v0, beta2), tf.mul(tf.square(gradient), rest2)) : tf.mul(tf.square(gradient), rest2)));
      this.replaceSlot(`${name}#m`, m);
      this.replaceSlot(`${name}#v`, v);
      table.set(name, tf.tidy(() => tf.sub(table.get(name), tf.mul(tf.div(m, tf.add(tf.sqrt(v), epsilon)), stepSize))));
    }
    stepSize.dispose();
    epsilon.dispose();
    table.clearGradients();
  }
}
