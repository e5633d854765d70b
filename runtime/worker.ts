// Entry point of one device's worker thread: its own TensorFlow.js engine
// and backend, its own interpreter; tensors leave and arrive as transferred
// ArrayBuffers over a channel to each peer device, which the main thread
// (runtime/workers.ts) set up and never reads.

import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { IrProgram } from '../compiler/ir/types.ts';
import { useBackend, type BackendName } from './backends.ts';
import { BatchFeed, createDataset, dataShapes } from './data/index.ts';
import { DeviceHost, type StageState } from './deviceHost.ts';
import type { StepOptions, Transport } from './interpreter.ts';
import { loadExternLayers } from './layers/registry.ts';
import { disposeState, type Tensor } from './layers/types.ts';
import { RuntimeFault } from './messages.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';

export interface WorkerInit {
  readonly ir: IrProgram;
  readonly device: number;
  readonly backend: BackendName;
  readonly baseDirectory: string;
  /** One end of a channel to each device this one exchanges tensors with (by global device index). */
  readonly peers: Readonly<Record<number, MessagePort>>;
  /** Progress words shared with the main thread (see ProgressBoard). */
  readonly progress: SharedArrayBuffer;
  /** This worker's row in `progress`. */
  readonly progressRow: number;
}

export interface WireTensor {
  readonly shape: number[];
  readonly dtype: 'float32' | 'int32';
  readonly buffer: ArrayBuffer;
}

export type WorkerRequest =
  | { readonly type: 'call'; readonly id: number; readonly method: 'step'; readonly options: StepOptions }
  | { readonly type: 'call'; readonly id: number; readonly method: 'gradients' | 'clearGradients' | 'state' | 'close' }
  | { readonly type: 'call'; readonly id: number; readonly method: 'loadState'; readonly state: Record<number, StageState> }
  | { readonly type: 'call'; readonly id: number; readonly method: 'forward'; readonly stage: number; readonly input: WireTensor; readonly skips: Record<number, WireTensor> };

/** The reply to 'forward': the stage's output and the skips it sends on, by edge. */
export interface ForwardReply {
  readonly output: WireTensor;
  readonly skips: Record<number, WireTensor>;
}

export type WorkerReply =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly id: number; readonly value: unknown }
  | { readonly type: 'error'; readonly id: number; readonly message: string; readonly code: string };

/** What one device sends another, straight over their channel (the main thread never sees it). */
interface PeerMessage {
  readonly tag: string;
  readonly tensors: WireTensor[];
}

/**
 * Progress without messages: each worker keeps three words in a shared
 * Int32Array — how many instructions it has started (and receives it has
 * had answered), the instruction it is on, and whether it is waiting for a
 * peer — so the watchdog reads where every device is without the workers
 * posting a message per instruction to a main thread that shares their cores.
 */
export class ProgressBoard {
  static readonly wordsPerRow = 3;
  private readonly words: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
  }

  static allocate(rows: number): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * ProgressBoard.wordsPerRow * rows);
    // No instruction started yet: -1, so a fault during start-up names the device alone.
    const words = new Int32Array(buffer);
    for (let row = 0; row < rows; row++) words[row * ProgressBoard.wordsPerRow + 1] = -1;
    return buffer;
  }

  started(row: number, instruction: number): void {
    const base = row * ProgressBoard.wordsPerRow;
    Atomics.store(this.words, base + 1, instruction);
    Atomics.store(this.words, base + 2, 0);
    Atomics.add(this.words, base, 1);
  }

  waiting(row: number, waiting: boolean): void {
    const base = row * ProgressBoard.wordsPerRow;
    Atomics.store(this.words, base + 2, waiting ? 1 : 0);
    if (!waiting) Atomics.add(this.words, base, 1);
  }

  read(row: number): { readonly ticks: number; readonly instruction: number; readonly waiting: boolean } {
    const base = row * ProgressBoard.wordsPerRow;
    return { ticks: Atomics.load(this.words, base), instruction: Atomics.load(this.words, base + 1), waiting: Atomics.load(this.words, base + 2) === 1 };
  }
}

/**
 * The tensor's values in a buffer of their own, ready to transfer. The wasm
 * backend's read already is one (a slice of its heap), so it travels as is;
 * the cpu backend hands out the array it computes in, which clones and
 * reshapes of the tensor share, so that one is copied first.
 */
export async function toWire(tensor: Tensor): Promise<WireTensor> {
  const data = await tensor.data();
  const dtype = tensor.dtype === 'int32' ? 'int32' : 'float32';
  const owned = tf.getBackend() === 'wasm' && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
    && (dtype === 'int32' ? data instanceof Int32Array : data instanceof Float32Array);
  const values = owned ? data : dtype === 'int32' ? Int32Array.from(data as Int32Array) : Float32Array.from(data as Float32Array);
  return { shape: tensor.shape, dtype, buffer: values.buffer as ArrayBuffer };
}

export function fromWire(wire: WireTensor): Tensor {
  const values = wire.dtype === 'int32' ? new Int32Array(wire.buffer) : new Float32Array(wire.buffer);
  return tf.tensor(values, wire.shape, wire.dtype);
}

const port = parentPort;
if (port) {
  const init = workerData as WorkerInit;
  const waiting = new Map<string, (tensors: Tensor[]) => void>();
  const arrived = new Map<string, WireTensor[]>();
  const board = new ProgressBoard(init.progress);
  const post = (message: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

  const deliver = (from: number, message: PeerMessage): void => {
    const key = `${from}|${message.tag}`;
    const resolve = waiting.get(key);
    if (resolve) {
      waiting.delete(key);
      board.waiting(init.progressRow, false);
      resolve(message.tensors.map(fromWire));
    } else {
      arrived.set(key, message.tensors);
    }
  };
  for (const [peer, channel] of Object.entries(init.peers)) channel.on('message', (message: PeerMessage) => deliver(Number(peer), message));

  const transport: Transport = {
    async send(_from, to, tag, tensors) {
      if (to === init.device) {
        // A hand-off between two stages of this device (the turn of a V or a
        // wave) has no channel (communicatingPairs leaves self-pairs out): it
        // is delivered here, as the in-process transport does.
        const wires = await Promise.all(tensors.map(toWire));
        for (const tensor of tensors) tensor.dispose();
        deliver(init.device, { tag, tensors: wires });
        return;
      }
      const channel = init.peers[to];
      if (!channel) throw new RuntimeFault(diagnosticMessages.runtimeInternal, `device ${init.device} has no channel to device ${to}`);
      const wires = await Promise.all(tensors.map(toWire));
      for (const tensor of tensors) tensor.dispose();
      channel.postMessage({ tag, tensors: wires } satisfies PeerMessage, wires.map((w) => w.buffer));
    },
    receive(from, _to, tag) {
      const key = `${from}|${tag}`;
      const message = arrived.get(key);
      if (message) {
        arrived.delete(key);
        return Promise.resolve(message.map(fromWire));
      }
      board.waiting(init.progressRow, true);
      return new Promise((resolve) => waiting.set(key, resolve));
    },
  };

  let host: DeviceHost | undefined;
  const ready = (async () => {
    await useBackend(init.backend);
    const resolve = (path: string): string => pathToFileURL(isAbsolute(path) ? path : resolvePath(init.baseDirectory, path)).href;
    const externs = await loadExternLayers(init.ir.model.layers, resolve);
    const dataset = createDataset(init.ir.data, dataShapes(init.ir), init.baseDirectory);
    const feed = new BatchFeed(dataset, init.ir.seed, init.ir.microbatchSize, init.ir.microbatches, init.ir.replicas);
    // Each instruction is marked on the board as it starts, so the main thread can name where a hung device stopped.
    host = new DeviceHost(init.ir, init.device, externs, feed, transport, (location) => board.started(init.progressRow, location.instruction ?? -1));
  })();

  const handle = async (request: Extract<WorkerRequest, { type: 'call' }>): Promise<{ value: unknown; transfer?: ArrayBuffer[] }> => {
    await ready;
    if (!host) throw new Error('worker failed to initialise');
    switch (request.method) {
      case 'step': return { value: await host.runStep(request.options) };
      case 'gradients': return { value: await host.gradients() };
      case 'clearGradients': host.clearGradients(); return { value: null };
      case 'state': return { value: await host.state() };
      case 'loadState': host.loadState(request.state); return { value: null };
      case 'forward': {
        const skips = new Map(Object.entries(request.skips).map(([edge, wire]): [number, Tensor] => [Number(edge), fromWire(wire)]));
        const result = host.forwardOnly(request.stage, fromWire(request.input), skips);
        const reply: ForwardReply = { output: await toWire(result.output), skips: {} };
        for (const [edge, tensor] of result.skips) reply.skips[edge] = await toWire(tensor);
        disposeState([result.output, ...result.skips.values()]);
        return { value: reply, transfer: [reply.output.buffer, ...Object.values(reply.skips).map((wire) => wire.buffer)] };
      }
      case 'close': host.dispose(); return { value: null };
    }
  };

  port.on('message', (request: WorkerRequest) => {
    handle(request).then(
      ({ value, transfer }) => post({ type: 'result', id: request.id, value }, transfer ?? []),
      (error: unknown) => post({
        type: 'error', id: request.id,
        message: error instanceof Error ? error.message : String(error),
        code: error instanceof RuntimeFault ? error.code : diagnosticMessages.workerFailed.code,
      }),
    );
  });
  ready.then(() => post({ type: 'ready' }), (error: unknown) => post({ type: 'error', id: -1, message: error instanceof Error ? error.message : String(error), code: error instanceof RuntimeFault ? error.code : diagnosticMessages.workerFailed.code }));
}
