// Checkpoints: parameters and optimizer state of every stage, the step to
// resume from and the loss history. A header line (format, version, sha256
// of the body) and the JSON body. Written atomically: a temporary file in
// the same folder, flushed to disk (fsync), renamed over the old checkpoint
// and the folder flushed, so a crash at any moment leaves either the old
// checkpoint or the new one, never a torn file; temporary files a killed
// run left behind are removed by the next run. Read defensively: after the
// checksum every field is validated against the program, so a checkpoint
// that is truncated, corrupt, hand-edited or another program's is refused
// with a message that says which field is wrong, before anything runs
// (parameter names and shapes are matched against the built stages by
// DeviceHost.loadState).

import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { IrProgram } from '../compiler/ir/types.ts';
import type { HostArray, StageState } from './deviceHost.ts';
import { RuntimeFault } from './messages.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';

export const CHECKPOINT_FILE = 'checkpoint.json';
const FORMAT = 'pipec-checkpoint';
const VERSION = 1;
/** Temporary files are `.checkpoint.json.PID.tmp`: the writer's process id tells a live writer from a dead one. */
const TEMPORARY = new RegExp(`^\\.${CHECKPOINT_FILE.replace('.', '\\.')}\\.(\\d+)\\.tmp$`);

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

const mapValues = <A, B>(record: Readonly<Record<string, A>>, fn: (a: A, key: string) => B): Record<string, B> =>
  Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value, key)]));

/** Removes the temporary files of writers that are no longer running (a run killed mid-write). */
export function removeStaleTemporaries(directory: string): string[] {
  if (!existsSync(directory)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(directory)) {
    const match = TEMPORARY.exec(name);
    if (match === null) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && processIsAlive(pid)) continue;
    rmSync(join(directory, name), { force: true });
    removed.push(name);
  }
  return removed;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Test seam for the kill-during-write test (test/runtime/checkpointFaults.test.ts):
 * with PIPEC_TEST_HOLD_CHECKPOINT_WRITE=N the Nth checkpoint write of this
 * process stops after its temporary file is on disk and before the rename,
 * says so on stderr, and waits to be killed.
 */
let writesSoFar = 0;
function holdForTest(temporary: string): void {
  const hold = Number(process.env.PIPEC_TEST_HOLD_CHECKPOINT_WRITE);
  if (!Number.isInteger(hold) || hold !== writesSoFar) return;
  process.stderr.write(`pipec test hold: ${temporary} written, not renamed\n`);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(sleeper, 0, 0, 60_000);
}

function writeFailure(directory: string, error: unknown): RuntimeFault {
  const reason = (error as NodeJS.ErrnoException).code === 'ENOSPC' ? 'no space left on the device' : (error as Error).message;
  return new RuntimeFault(diagnosticMessages.checkpointWrite, `cannot write a checkpoint in ${directory}: ${reason}; the previous checkpoint there is unchanged`);
}

/** Refuses to save what could not be resumed: NaN or Inf in a parameter or optimizer state, or in the losses. */
function assertFinite(checkpoint: Checkpoint): void {
  const badLoss = checkpoint.losses.findIndex((loss) => !Number.isFinite(loss));
  if (badLoss >= 0) throw new RuntimeFault(diagnosticMessages.nonFinite, `the loss of step ${badLoss + 1} is ${checkpoint.losses[badLoss]}; no checkpoint was written`);
  for (const [stage, state] of Object.entries(checkpoint.stages)) {
    for (const [kind, arrays] of [['parameter', state.parameters], ['optimizer state', state.optimizer]] as const) {
      for (const [name, array] of Object.entries(arrays)) {
        if (!array.values.every(Number.isFinite)) {
          throw new RuntimeFault(diagnosticMessages.nonFinite, `the ${kind} '${name}' of stage ${stage} contains NaN or Inf; no checkpoint was written`);
        }
      }
    }
  }
}

export function writeCheckpoint(directory: string, checkpoint: Checkpoint): string {
  assertFinite(checkpoint);
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
  const header = JSON.stringify({ format: FORMAT, version: VERSION, sha256: createHash('sha256').update(body).digest('hex') });
  const path = join(directory, CHECKPOINT_FILE);
  const temporary = join(directory, `.${CHECKPOINT_FILE}.${process.pid}.tmp`);
  writesSoFar++;
  try {
    mkdirSync(directory, { recursive: true });
    removeStaleTemporaries(directory);
    const descriptor = openSync(temporary, 'w');
    try {
      writeSync(descriptor, `${header}\n${body}\n`);
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
    holdForTest(temporary);
    renameSync(temporary, path);
    // The rename itself is durable once the folder is flushed.
    const folder = openSync(directory, 'r');
    try {
      fsyncSync(folder);
    } finally {
      closeSync(folder);
    }
  } catch (error) {
    rmSync(temporary, { force: true });
    throw writeFailure(directory, error);
  }
  return path;
}

/** Why a checkpoint is refused: one field, named. */
function invalid(path: string, problem: string): RuntimeFault {
  return new RuntimeFault(diagnosticMessages.checkpointInvalid, `${path} cannot be resumed: ${problem}`);
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeArray(path: string, where: string, value: unknown): HostArray {
  if (!isRecord(value) || !Array.isArray(value.shape) || typeof value.base64 !== 'string') throw invalid(path, `${where} is not an array record ({shape, base64})`);
  const shape = value.shape as unknown[];
  if (!shape.every((size) => Number.isSafeInteger(size) && (size as number) >= 0)) throw invalid(path, `${where} has the shape ${JSON.stringify(shape)}, not a list of sizes`);
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  if (value.base64.length % 4 !== 0 || !BASE64.test(value.base64)) throw invalid(path, `${where} holds data that is not base64`);
  const bytes = Buffer.from(value.base64, 'base64');
  if (bytes.byteLength !== elements * 4) throw invalid(path, `${where} has ${bytes.byteLength / 4} values for the shape [${shape.join(', ')}] (${elements})`);
  const values = new Float32Array(elements);
  new Uint8Array(values.buffer).set(bytes);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw invalid(path, `${where} holds ${values[bad]} at element ${bad}`);
  return { shape: shape as number[], values };
}

export function readCheckpoint(directory: string, ir: IrProgram): Checkpoint {
  const path = join(directory, CHECKPOINT_FILE);
  if (!existsSync(path)) throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `no checkpoint at ${path}`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw invalid(path, `it cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const newline = text.indexOf('\n');
  let header: unknown;
  try {
    header = JSON.parse(newline < 0 ? text : text.slice(0, newline));
  } catch {
    throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `${path} is not a pipec checkpoint (its first line is not a checkpoint header)`);
  }
  if (!isRecord(header) || header.format !== FORMAT) throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `${path} is not a pipec checkpoint`);
  if (header.version !== VERSION) throw invalid(path, `it is version ${JSON.stringify(header.version)} of the format; this pipec reads version ${VERSION}`);
  if (typeof header.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(header.sha256)) throw invalid(path, 'its header has no sha256');
  if (newline < 0) throw invalid(path, 'it is truncated (no body after the header)');
  const body = text.slice(newline + 1).trimEnd();
  const digest = createHash('sha256').update(body).digest('hex');
  if (digest !== header.sha256) {
    throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `${path} is corrupt or truncated (sha256 ${digest.slice(0, 12)}… does not match the recorded ${header.sha256.slice(0, 12)}…)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw invalid(path, 'its body is not JSON');
  }
  if (!isRecord(parsed)) throw invalid(path, 'its body is not an object');
  if (parsed.fingerprint !== programFingerprint(ir)) {
    throw new RuntimeFault(diagnosticMessages.checkpointInvalid, `${path} was written for a different model, optimizer, seed, batch or data`);
  }
  const { step, losses, stages } = parsed;
  if (!Number.isSafeInteger(step) || (step as number) < 0) throw invalid(path, `step is ${JSON.stringify(step)}, not a step count (a whole number ≥ 0)`);
  if (!Array.isArray(losses) || !losses.every((loss) => typeof loss === 'number' && Number.isFinite(loss))) throw invalid(path, 'losses is not a list of finite numbers');
  if (losses.length !== step) throw invalid(path, `losses has ${losses.length} entries for ${step} steps`);
  if (!isRecord(stages)) throw invalid(path, 'stages is not an object');
  const expected = ir.stages.map((stage) => String(stage.index));
  const missing = expected.filter((index) => !Object.hasOwn(stages, index));
  if (missing.length > 0) throw invalid(path, `it has no state for stage${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  const extra = Object.keys(stages).filter((index) => !expected.includes(index));
  if (extra.length > 0) throw invalid(path, `it has state for stage${extra.length > 1 ? 's' : ''} ${extra.join(', ')}, which the program does not have`);
  const decoded: Record<number, StageState> = {};
  for (const index of expected) {
    const stage = stages[index];
    if (!isRecord(stage) || !isRecord(stage.parameters) || !isRecord(stage.optimizer)) throw invalid(path, `stage ${index} lacks its parameters or optimizer state`);
    if (!Number.isSafeInteger(stage.optimizerSteps) || (stage.optimizerSteps as number) < 0) throw invalid(path, `stage ${index} has optimizerSteps ${JSON.stringify(stage.optimizerSteps)}`);
    const parameters = mapValues(stage.parameters, (value, name) => decodeArray(path, `parameter '${name}' of stage ${index}`, value));
    const optimizer = mapValues(stage.optimizer, (value, name) => decodeArray(path, `optimizer state '${name}' of stage ${index}`, value));
    decoded[Number(index)] = { parameters, optimizer, optimizerSteps: stage.optimizerSteps as number };
  }
  return { step: step as number, fingerprint: parsed.fingerprint as string, losses: losses as number[], stages: decoded };
}
