// The two-stage MLP the CLI and runtime tests train in a second, and a
// capture of what a command writes. One copy, so a change of the language
// updates every test that trains it.
import { vi } from 'vitest';

/** 12 → 16 → 4 over two devices, 1F1B, on synthetic data drawn with SEED. */
export function smallMlpProgram(options: { readonly seed: number; readonly steps?: number }): string {
  return `model mlp {
  input x: f32[batch, 12]
  target y: i32[batch]
  layer fc = Dense(units: 16, activation: relu)
  layer out = Dense(units: 4)
  loss softmax_cross_entropy(out, y)
}
cluster local {
  device gpu[0..2] memory 16GiB speed 100TFLOPS
  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us
}
pipeline p {
  model mlp
  cluster local
  batch 16 microbatches 4
  stages {
    s0 on gpu[0] = fc
    s1 on gpu[1] = out
  }
  schedule 1f1b
  optimizer adam(lr: 1e-2)
  data synthetic(examples: 256, seed: ${options.seed})
${options.steps === undefined ? '' : `  steps ${options.steps}\n`}}
`;
}

/** What the command writes to stdout and stderr, until vi.restoreAllMocks(). */
export function captureOutput(): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { out += String(chunk); return true; });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { err += String(chunk); return true; });
  return { out: () => out, err: () => err };
}

/** The four-GPU cluster the runtime's schedule tests train on. */
export const FOUR_GPU_CLUSTER = `cluster local {
  device gpu[0..4] memory 16GiB speed 100TFLOPS
  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us
}`;

/** A 12 → 16 → … → 5 MLP with `hidden` GELU layers between its input and output layers (fc_in, hidden[i], out). */
export function deepMlpModel(hidden: number): string {
  return `model mlp {
  input x: f32[batch, 12]
  target y: i32[batch]
  layer fc_in = Dense(units: 16, activation: relu)
  repeat i in 0..${hidden} {
    layer hidden[i] = Dense(units: 16, activation: gelu)
  }
  layer out = Dense(units: 5)
  loss softmax_cross_entropy(out, y)
}`;
}

/** A small causal transformer over 24 tokens: embed, `blocks` TransformerBlocks (with dropout), norm, head. */
export function smallGptModel(blocks: number): string {
  return `model gpt {
  dim batch
  dim seq = 6
  input tokens: i32[batch, seq]
  target next: i32[batch, seq]
  layer embed = Embedding(vocab: 24, dim: 16)
  repeat i in 0..${blocks} {
    layer block[i] = TransformerBlock(heads: 2, ff: 32, causal: true, dropout: 0.1)
  }
  layer norm = LayerNorm()
  layer head = Dense(units: 24)
  loss softmax_cross_entropy(head, next)
}`;
}
