import { describe, expect, it } from 'vitest';
import { chooseBackend, DEFAULT_BACKEND, FALLBACK_BACKEND, type BackendName } from '../../runtime/index.ts';
import { RuntimeFault } from '../../runtime/messages.ts';
import { diagnosticMessages } from '../../grammar/diagnosticMessages.ts';

describe('the default backend', () => {
  it('is wasm, with cpu to fall back on', () => {
    expect(DEFAULT_BACKEND).toBe('wasm');
    expect(FALLBACK_BACKEND).toBe('cpu');
  });

  it('starts here: wasm ships with the install', async () => {
    expect(await chooseBackend(undefined)).toEqual({ backend: 'wasm' });
  });

  it('keeps a backend asked for by name without starting anything', async () => {
    const started: BackendName[] = [];
    expect(await chooseBackend('cpu', async (name) => { started.push(name); })).toEqual({ backend: 'cpu' });
    expect(await chooseBackend('webgpu', async (name) => { started.push(name); })).toEqual({ backend: 'webgpu' });
    expect(started).toEqual([]);
  });

  it('falls back to cpu with a note naming the reason when wasm cannot start', async () => {
    const choice = await chooseBackend(undefined, async (name) => {
      throw new RuntimeFault(diagnosticMessages.backendUnavailable, `backend '${name}': no WebAssembly in this runtime`);
    });
    expect(choice.backend).toBe('cpu');
    expect(choice.note).toMatch(/^the default backend wasm cannot start here \(.*no WebAssembly in this runtime\); running on cpu instead$/);
    expect(choice.note).not.toMatch(/PIPE\d+/);
  });
});
