// TensorFlow.js backends behind `--backend`: cpu (pure JS), wasm (XNNPACK,
// the default where it starts), webgpu (Dawn through the `webgpu` npm
// package) and tensorflow (tfjs-node or tfjs-node-gpu, only where the user
// installed one). Each loads lazily, and a backend that cannot run here says
// why instead of throwing a stack.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { RuntimeFault } from './messages.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';

export type BackendName = 'cpu' | 'wasm' | 'webgpu' | 'tensorflow';
export const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'wasm', 'webgpu', 'tensorflow'];

export interface BackendStatus {
  readonly name: BackendName;
  readonly available: boolean;
  /** Why not, or what it runs on. */
  readonly detail: string;
}

export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

async function registerCpu(): Promise<string> {
  await import('@tensorflow/tfjs-backend-cpu');
  return 'cpu';
}

async function registerWasm(): Promise<string> {
  await import('@tensorflow/tfjs-backend-wasm');
  return 'wasm';
}

/**
 * On Linux Dawn reaches the GPU through the Vulkan loader. Without one it
 * prints a native warning to stderr and finds no adapter; looking for the
 * loader first gives the actionable reason and keeps `pipec backends` quiet.
 * Only decides "missing" where the dynamic linker's cache can be read.
 */
export function missingVulkanLoader(
  platform: string = process.platform,
  readLinkerCache: () => Uint8Array = () => readFileSync('/etc/ld.so.cache'),
  libraryPath: string = process.env.LD_LIBRARY_PATH ?? '',
  exists: (path: string) => boolean = existsSync,
): string | undefined {
  if (platform !== 'linux') return undefined;
  let cache: Uint8Array;
  try {
    cache = readLinkerCache();
  } catch {
    return undefined;
  }
  const library = 'libvulkan.so.1';
  if (Buffer.from(cache).includes(library)) return undefined;
  if (libraryPath.split(':').filter(Boolean).some((directory) => exists(join(directory, library)))) return undefined;
  return `no Vulkan loader (${library} is neither in the dynamic linker's cache nor on LD_LIBRARY_PATH): `
    + 'install it (Debian/Ubuntu: apt-get install libvulkan1) along with the GPU vendor\'s Vulkan driver';
}

async function registerWebgpu(): Promise<string> {
  // Dawn's WebGPU must be on globalThis before the backend module looks for navigator.gpu.
  const globalScope = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (!globalScope.navigator?.gpu) {
    const missing = missingVulkanLoader();
    if (missing) throw new Error(missing);
    let webgpu: { create(options: string[]): unknown; globals: Record<string, unknown> };
    try {
      webgpu = await import('webgpu') as unknown as typeof webgpu;
    } catch (error) {
      throw new Error(`the 'webgpu' package (Dawn) does not load here: ${(error as Error).message}`);
    }
    Object.assign(globalThis, webgpu.globals);
    const gpu = webgpu.create([]);
    Object.defineProperty(globalThis, 'navigator', { value: { ...(globalScope.navigator ?? {}), gpu }, configurable: true, writable: true });
  }
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<unknown> } } }).navigator.gpu;
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter: Dawn found no GPU (Vulkan, Metal or D3D12) on this machine');
  await import('@tensorflow/tfjs-backend-webgpu');
  return 'webgpu';
}

async function registerTensorflow(): Promise<string> {
  for (const name of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(name);
      return 'tensorflow';
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw new Error(`${name} is installed but does not load: ${(error as Error).message}`);
    }
  }
  throw new Error('neither @tensorflow/tfjs-node nor @tensorflow/tfjs-node-gpu is installed (npm i @tensorflow/tfjs-node to use it)');
}

const REGISTER: Record<BackendName, () => Promise<string>> = {
  cpu: registerCpu, wasm: registerWasm, webgpu: registerWebgpu, tensorflow: registerTensorflow,
};

/**
 * What `pipec train`, `verify` and `profile` run on when no `--backend` is
 * given. Chosen by measurement (docs/runtime.md, "Choosing the default
 * backend"; `npm run bench`): on the samples wasm trained 4 to 16× faster
 * than cpu with the same losses; `pipec verify` on wasm finds the pipelined
 * gradients of the samples equal to single-device ones within 1.5e-6, and
 * test/runtime/interpreter.test.ts holds wasm's gradients to cpu's.
 */
export const DEFAULT_BACKEND: BackendName = 'wasm';
/** Where the default cannot start: pure JavaScript runs everywhere. */
export const FALLBACK_BACKEND: BackendName = 'cpu';

export interface BackendChoice {
  readonly backend: BackendName;
  /** Set when the default could not start and the fallback runs instead: why, for the user. */
  readonly note?: string;
}

/**
 * The backend to run: the one asked for, else the default if it starts in
 * this thread, else the fallback with a note saying why. A backend asked for
 * by name is not replaced: if it cannot start, the run fails with PIPE6007.
 */
export async function chooseBackend(requested: BackendName | undefined, start: (name: BackendName) => Promise<void> = useBackend): Promise<BackendChoice> {
  if (requested !== undefined) return { backend: requested };
  try {
    await start(DEFAULT_BACKEND);
    return { backend: DEFAULT_BACKEND };
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^PIPE\d+: /, '') : String(error);
    return { backend: FALLBACK_BACKEND, note: `the default backend ${DEFAULT_BACKEND} cannot start here (${reason}); running on ${FALLBACK_BACKEND} instead` };
  }
}

/** Makes `name` the active TensorFlow.js backend of this thread's engine. */
export async function useBackend(name: BackendName): Promise<void> {
  if (tf.getBackend() === name || (name === 'tensorflow' && tf.getBackend() === 'tensorflow')) return;
  let registered: string;
  try {
    registered = await REGISTER[name]();
  } catch (error) {
    throw new RuntimeFault(diagnosticMessages.backendUnavailable, `backend '${name}': ${(error as Error).message}`);
  }
  const ok = await tf.setBackend(registered);
  if (!ok) throw new RuntimeFault(diagnosticMessages.backendUnavailable, `backend '${name}' failed to initialise`);
  await tf.ready();
  // The cpu backend greets Node users with an advertisement for tfjs-node on first use; keep output clean.
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (backend.firstUse) backend.firstUse = false;
}

/** Tries every backend (in this thread) and reports which can run. */
export async function listBackends(): Promise<BackendStatus[]> {
  const previous = tf.getBackend();
  const statuses: BackendStatus[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      await useBackend(name);
      // A tiny computation proves the backend works, not just that it loaded.
      const value = (await tf.tidy(() => tf.sum(tf.matMul(tf.ones([4, 4]), tf.ones([4, 4])))).data())[0];
      if (value !== 64) throw new Error(`computed ${value} for a sum that is 64`);
      statuses.push({ name, available: true, detail: `${describeBackend(name)}${name === DEFAULT_BACKEND ? '; the default of train, verify and profile' : ''}` });
    } catch (error) {
      const message = error instanceof Error ? error.message.replace(/^PIPE\d+: /, '') : String(error);
      statuses.push({ name, available: false, detail: message });
    }
  }
  if (previous) await tf.setBackend(previous);
  return statuses;
}

function describeBackend(name: BackendName): string {
  switch (name) {
    case 'cpu': return 'pure JavaScript';
    case 'wasm': return `WebAssembly (${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD'}, one thread)`;
    case 'webgpu': {
      const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
      return `WebGPU via Dawn${info?.vendor ? ` (${info.vendor} ${info.architecture ?? ''})`.trimEnd() : ''}`;
    }
    case 'tensorflow': return 'TensorFlow C library (tfjs-node)';
  }
}
