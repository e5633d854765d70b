// Checkpoints: parameters and optimizer state of every stage, the step to
// resume from and the loss history. Written atomically (temp file + rename)
// with a sha256 of the body, so a crash mid-write never leaves a torn file
// that loads.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { IrProgram } from '../compiler/ir/types.ts';
import type { HostArray, StageState } from './deviceHost.ts';
import { RuntimeFault } from './messages.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';

export const CHECKPOINT_FILE = 'checkpoint.json';
const FORMAT = 'pipec-checkpoint';

export interface Checkpoint {
  /** The next step to run. */
  readonly step: number;
  readonly fingerprint: string;
  readonly losses: readonly number[];
  readonly stages: Readonly<Record<number, StageState>>;
}

/**
 * What must not change between a checkpoint and its resumption: the model,
 * its split into stages, optimizer, seed, batch and data. (The schedule may.)
 */
export function programFingerprint(ir: IrProgram): string {
  const identity = {
    model: ir.model, stages: ir.stages.map((s) => s.layers), optimizer: ir.optimizer, seed: ir.seed,
    batch: [ir.microbatchSize, ir.microbatches, ir.replicas], data: ir.data ?? null,
  };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}

interface EncodedArray { readonly shape: readonly number[]; readonly base64: string }

function encode(array: HostArray): EncodedArray {
  const bytes = Buffer.from(array.values.buffer, array.values.byteOffset, array.values.byteLength);
  return { shape: array.shape, base64: bytes.toString('base64') };
}

function decode(encoded: EncodedArray): HostArray {
  const bytes = Buffer.from(encoded.base64, 'base64');
  const values = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(values.buffer).set(bytes);
  return { shape: encoded.shape, values };
}

const mapValues = <A, B>(record: Readonly<Record<string, A>>, fn: (a: A) => B): Record<string, B> =>
  Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));

export function writeCheckpoint(directory: string, checkpoint: Checkpoint): string {
  mkdirSync(directory, { recursive: true });
  const body = JSON.stringify({
    step: checkpoint.step,
    fingerprint: checkpoint.fingerprint,
    losses: checkpoint.losses,
    stages: mapValues(checkpoint.stages as Record<string, StageState>, (stage) => ({
      parameters: mapValues(stage.parameters, encode),
      optimizer: mapValues(stage.optimizer, encode),
      optimizerSteps: stage.optimizerSteps,
    })),
  });
  const header = JSON.stringify({ format: FORMAT, version: 1, sha256: createHash('sha256').update(body).digest('hex') });
  const path = join(directory, CHECKPOINT_FILE);
  const temporary = join(directory, `.${CHECKPOINT_FILE}.${process.pid}.tmp`);
  writeFileSync(temporary, `${header}\n${body}\n`);
  renameSync(temporary, path);
  return path;
}

export function readCheckpoint(directory: string, ir: IrProgram): Checkpoint {
  const path = join(directory, CHECKPOINT_FILE);
  if (!existsSync(path)) throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `no checkpoint at ${path}`);
  const text = readFileSync(path, 'utf8');
  const newline = text.indexOf('\n');
  let header: { format?: string; sha256?: string };
  try {
    header = JSON.parse(text.slice(0, newline));
  } catch {
    throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `${path} is not a pipec checkpoint`);
  }
  const body = text.slice(newline + 1).trimEnd();
  if (header.format !== FORMAT) throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `${path} is not a pipec checkpoint`);
  const digest = createHash('sha256').update(body).digest('hex');
  if (digest !== header.sha256) throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `${path} is corrupt (sha256 ${digest.slice(0, 12)}… does not match the recorded ${String(header.sha256).slice(0, 12)}…)`);
  const parsed = JSON.parse(body) as { step: number; fingerprint: string; losses: number[]; stages: Record<string, { parameters: Record<string, EncodedArray>; optimizer: Record<string, EncodedArray>; optimizerSteps: number }> };
  if (parsed.fingerprint !== programFingerprint(ir)) {
    throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `${path} was written for a different model, optimizer, seed, batch or data`);
  }
  const stages: Record<number, StageState> = {};
  for (const [index, stage] of Object.entries(parsed.stages)) {
    stages[Number(index)] = { parameters: mapValues(stage.parameters, decode), optimizer: mapValues(stage.optimizer, decode), optimizerSteps: stage.optimizerSteps };
  }
  return { step: parsed.step, fingerprint: parsed.fingerprint, losses: parsed.losses, stages };
}
