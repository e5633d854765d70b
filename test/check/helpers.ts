// Shared helpers for the checker's rule tests: check in-memory files, and
// assert a diagnostic by code, by the exact source text its span covers and
// by (part of) its message — so a test pins both the words and the location.

import { expect } from 'vitest';
import { checkProgram } from '../../compiler/check/index.ts';
import type { CheckResult } from '../../compiler/check/index.ts';
import { createMemoryHost } from '../../compiler/host.ts';
import type { Diagnostic } from '../../grammar/diagnostic.ts';

export const BASE_PROGRAM = `model mlp {
  input x: f32[batch, 784]
  target y: i32[batch]
  layer fc1 = Dense(units: 64, activation: relu)
  layer fc2 = Dense(units: 64, activation: relu)
  layer out = Dense(units: 10)
  loss softmax_cross_entropy(out, y)
}

cluster local {
  device gpu[0..2] memory 16GiB speed 100TFLOPS
  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us
}

pipeline train {
  model mlp
  cluster local
  batch 64 microbatches 8
  stages {
    s0 on gpu[0] = fc1, fc2
    s1 on gpu[1] = out
  }
  schedule 1f1b
  optimizer adam(lr: 1e-3)
}
`;

/** BASE_PROGRAM with each [from, to] replaced once (failing loudly when `from` is absent). */
export function variant(...replacements: readonly (readonly [string, string])[]): string {
  let text = BASE_PROGRAM;
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`variant: '${from}' is not in the base program`);
    text = text.replace(from, to);
  }
  return text;
}

export interface Checked extends CheckResult {
  readonly text: string;
}

export function check(text: string, extraFiles: Readonly<Record<string, string>> = {}, options: { pipeline?: string } = {}): Checked {
  const result = checkProgram('main.pipe', createMemoryHost({ 'main.pipe': text, ...extraFiles }), options);
  return { ...result, text };
}

export function spanText(result: Checked, diagnostic: Diagnostic): string {
  const source = result.sources.get(diagnostic.span.file) ?? '';
  return source.slice(diagnostic.span.start, diagnostic.span.end);
}

/** Exactly one diagnostic with this code; its span covers `at` and its message contains `message`. */
export function expectDiagnostic(result: Checked, code: string, at: string, message: string): Diagnostic {
  const found = result.diagnostics.filter((d) => d.code === code);
  expect(found.map((d) => `${d.code} ${d.message}`), `diagnostics: ${result.diagnostics.map((d) => `${d.code} ${d.message}`).join(' | ')}`).toHaveLength(1);
  const [diagnostic] = found;
  expect(spanText(result, diagnostic)).toBe(at);
  expect(diagnostic.message).toContain(message);
  return diagnostic;
}

export function expectClean(result: Checked): void {
  expect(result.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  expect(result.program).toBeDefined();
}

export function codes(result: Checked): string[] {
  return result.diagnostics.map((d) => d.code);
}
