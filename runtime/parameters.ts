// Parameters and their gradient accumulators for the layers one device (or
// the single-device reference) holds. Initial values depend only on
// (seed, parameter name).

import * as tf from '@tensorflow/tfjs-core';
import { fillNormal, fillUniform, hashKey } from './random.ts';
import type { Initializer, ParameterSpec, ParameterStore, Tensor } from './layers/types.ts';

export function initialValues(spec: ParameterSpec, seed: number): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  const key = hashKey(seed, 'init', spec.name);
  const init: Initializer = spec.init;
  switch (init.kind) {
    case 'zeros': return values;
    case 'ones': return values.fill(1);
    case 'glorot_uniform': {
      const limit = Math.sqrt(6 / (init.fanIn + init.fanOut));
      return fillUniform(values, key, -limit, limit);
    }
    case 'he_normal': return fillNormal(values, key, Math.sqrt(2 / init.fanIn));
    case 'normal': return fillNormal(values, key, init.std);
  }
}

export class ParameterTable implements ParameterStore {
  readonly specs: readonly ParameterSpec[];
  private readonly values = new Map<string, Tensor>();
  private readonly gradients = new Map<string, Tensor>();
  /** Transposes of current values (see ParameterStore.transposed); dropped when the value changes. */
  private readonly transposes = new Map<string, Tensor>();

  /** `initial` overrides the (seed, name) initialisation of some parameters (a vocabulary shard's slice of its full layer). */
  constructor(specs: readonly ParameterSpec[], seed: number, initial?: (spec: ParameterSpec) => Float32Array | undefined) {
    const seen = new Set<string>();
    for (const spec of specs) {
      if (seen.has(spec.name)) throw new Error(`two parameters are named '${spec.name}'`);
      seen.add(spec.name);
    }
    this.specs = specs;
    for (const spec of specs) this.values.set(spec.name, tf.tensor(initial?.(spec) ?? initialValues(spec, seed), spec.shape as number[], 'float32'));
  }

  get(name: string): Tensor {
    const value = this.values.get(name);
    if (!value) throw new Error(`unknown parameter '${name}'`);
    return value;
  }

  transposed(name: string): Tensor {
    const cached = this.transposes.get(name);
    if (cached) return cached;
    // Kept: the first call usually comes from inside a layer's tf.tidy, which would dispose it.
    const transposed = tf.keep(tf.transpose(this.get(name)));
    this.transposes.set(name, transposed);
    return transposed;
  }

  set(name: string, value: Tensor): void {
    const old = this.values.get(name);
    if (!old) throw new Error(`unknown parameter '${name}'`);
    if (old !== value) {
      old.dispose();
      this.transposes.get(name)?.dispose();
      this.transposes.delete(name);
    }
    this.values.set(name, value);
  }

  accumulate(name: string, gradient: Tensor): void {
    const existing = this.gradients.get(name);
    if (!existing) {
      this.gradients.set(name, gradient);
      return;
    }
    this.gradients.set(name, tf.add(existing, gradient));
    existing.dispose();
    gradient.dispose();
  }

  gradient(name: string): Tensor | undefined {
    return this.gradients.get(name);
  }

  /** Replaces a gradient (after all-reduce). */
  setGradient(name: string, gradient: Tensor): void {
    const existing = this.gradients.get(name);
    if (existing && existing !== gradient) existing.dispose();
    this.gradients.set(name, gradient);
  }

  clearGradients(): void {
    for (const gradient of this.gradients.values()) gradient.dispose();
    this.gradients.clear();
  }

  names(): string[] {
    return this.specs.map((spec) => spec.name);
  }

  async snapshotValues(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const [name, value] of this.values) out[name] = (await value.data()) as Float32Array;
    return out;
  }

  /** Gradients, with zeros for parameters that received none (e.g. unused). */
  async snapshotGradients(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const spec of this.specs) {
      const gradient = this.gradients.get(spec.name);
      out[spec.name] = gradient ? ((await gradient.data()) as Float32Array) : new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
    }
    return out;
  }

  loadValues(values: Readonly<Record<string, Float32Array>>): void {
    for (const spec of this.specs) {
      const stored = values[spec.name];
      if (!stored) throw new Error(`checkpoint lacks parameter '${spec.name}'`);
      this.set(spec.name, tf.tensor(stored, spec.shape as number[], 'float32'));
    }
  }

  dispose(): void {
    for (const value of this.values.values()) value.dispose();
    this.values.clear();
    for (const transposed of this.transposes.values()) transposed.dispose();
    this.transposes.clear();
    this.clearGradients();
  }
}
