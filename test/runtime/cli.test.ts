import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main.ts';
import { captureOutput, smallMlpProgram } from '../helpers/smallProgram.ts';
import { missingVulkanLoader } from '../../runtime/backends.ts';

const PROGRAM = smallMlpProgram({ seed: 2, steps: 5 });


describe('pipec train / verify / profile / backends', () => {
  const directory = mkdtempSync(join(tmpdir(), 'pipec-cli-'));
  const file = join(directory, 'small.pipe');
  writeFileSync(file, PROGRAM);
  afterEach(() => vi.restoreAllMocks());

  it('train --json trains the pipeline\'s steps, writes a trace and a checkpoint', async () => {
    const io = captureOutput();
    const trace = join(directory, 'trace.json');
    const code = await main(['node', 'pipec', 'train', file, '--json', '--in-process', '--trace', trace, '--checkpoint', join(directory, 'ckpt')]);
    vi.restoreAllMocks();
    expect(code, io.err()).toBe(0);
    const summary = JSON.parse(io.out());
    expect(summary.steps).toBe(5);
    // No --backend: the measured default (runtime/backends.ts), which starts here.
    expect(summary.backend).toBe('wasm');
    expect(io.err()).not.toMatch(/cannot start/);
    expect(summary.losses).toHaveLength(5);
    expect(summary.losses[4]).toBeLessThan(summary.losses[0]);
    expect(summary.test.examples).toBeGreaterThan(0);
    expect(summary.peakSlots).toEqual(summary.predictedSlots);
    expect(JSON.parse(readFileSync(trace, 'utf8')).traceEvents.length).toBeGreaterThan(10);
    expect(existsSync(join(directory, 'ckpt', 'checkpoint.json'))).toBe(true);
  });

  it('verify prints the largest difference and exits 0 under the tolerance, 1 over it', async () => {
    let io = captureOutput();
    expect(await main(['node', 'pipec', 'verify', file])).toBe(0);
    expect(io.out()).toMatch(/vs single-device training on wasm:/);
    expect(io.out()).toMatch(/largest relative gradient difference: \d\.\d\de-\d+/);
    vi.restoreAllMocks();
    io = captureOutput();
    expect(await main(['node', 'pipec', 'verify', file, '--tolerance', '0'])).toBe(1);
    expect(io.out()).toMatch(/FAILED/);
  });

  it('profile writes a costs file with F, I, W per stage (in situ by default, --isolated on request)', async () => {
    captureOutput();
    const output = join(directory, 'costs.json');
    expect(await main(['node', 'pipec', 'profile', file, '-o', output, '--repeats', '2'])).toBe(0);
    let costs = JSON.parse(readFileSync(output, 'utf8'));
    expect(costs.kind).toBe('measured');
    expect(costs.measured.mode).toBe('workers');
    expect(costs.stages).toHaveLength(2);
    expect(costs.stages[0].forward).toBeGreaterThan(0);
    expect(costs.sendActivationOverhead[0]).toBeGreaterThan(0);
    expect(await main(['node', 'pipec', 'simulate', file, '--costs', output])).toBe(0);
    expect(await main(['node', 'pipec', 'profile', file, '-o', output, '--isolated', '--repeats', '2'])).toBe(0);
    costs = JSON.parse(readFileSync(output, 'utf8'));
    expect(costs.measured.mode).toBe('isolated');
    expect(costs.stages[1].backwardWeight).toBeGreaterThan(0);
    expect(await main(['node', 'pipec', 'simulate', file, '--costs', output])).toBe(0);
  });

  it('usage problems exit 2; a missing file exits 2', async () => {
    captureOutput();
    expect(await main(['node', 'pipec', 'train', file, '--steps', '0'])).toBe(2);
    expect(await main(['node', 'pipec', 'train', file, '--workers', '--in-process'])).toBe(2);
    expect(await main(['node', 'pipec', 'train', join(directory, 'missing.pipe')])).toBe(2);
  });

  it('webgpu names a missing Vulkan loader before Dawn looks for a GPU', () => {
    const cacheWith = (...names: string[]) => () => new TextEncoder().encode(`ld.so-1.7.0\0${names.join('\0')}\0`);
    const missing = missingVulkanLoader('linux', cacheWith('libc.so.6', 'libm.so.6'), '', () => false);
    expect(missing).toContain('no Vulkan loader (libvulkan.so.1 is neither in the dynamic linker\'s cache nor on LD_LIBRARY_PATH)');
    expect(missing).toContain('apt-get install libvulkan1');
    expect(missingVulkanLoader('linux', cacheWith('libc.so.6', 'libvulkan.so.1'), '', () => false)).toBeUndefined();
    expect(missingVulkanLoader('linux', cacheWith('libc.so.6'), '/opt/vk/lib:/x', (path) => path === '/opt/vk/lib/libvulkan.so.1')).toBeUndefined();
    // Where the linker cache cannot be read (or on other systems) Dawn decides, as before.
    expect(missingVulkanLoader('linux', () => { throw new Error('ENOENT'); }, '', () => false)).toBeUndefined();
    expect(missingVulkanLoader('darwin', cacheWith(), '', () => false)).toBeUndefined();
  });

  it('backends lists cpu as available', async () => {
    const io = captureOutput();
    expect(await main(['node', 'pipec', 'backends', '--json'])).toBe(0);
    vi.restoreAllMocks();
    const statuses = JSON.parse(io.out()) as { name: string; available: boolean; detail: string }[];
    expect(statuses.find((s) => s.name === 'cpu')?.available).toBe(true);
    expect(statuses.find((s) => s.name === 'wasm')).toMatchObject({ available: true, detail: expect.stringMatching(/; the default of train, verify and profile$/) });
    expect(statuses.map((s) => s.name)).toEqual(['cpu', 'wasm', 'webgpu', 'tensorflow']);
    for (const status of statuses.filter((s) => !s.available)) expect(status.detail.length).toBeGreaterThan(10);
    rmSync(directory, { recursive: true, force: true });
  });
});
