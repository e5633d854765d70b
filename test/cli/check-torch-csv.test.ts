import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runTorchCsvCheck } from '../../cli/commands/check.ts';

const fixtures = fileURLToPath(new URL('../fixtures/torch-orders/', import.meta.url));
const options = { format: 'text' as const, color: false };

describe('pipec check --torch-csv', () => {
  it("rejects PyTorch's 1F1B p4 m8 order with the exact reason, located in the file", () => {
    const file = `${fixtures}Schedule1F1B_p4_m8_v1.csv`;
    const result = runTorchCsvCheck(file, options);
    expect(result.exitCode).toBe(1);
    expect(result.output).toContain(`${file}:4:57: error PIPE4028: 3F8 on device 3 step 14 names microbatch 8, but the microbatches are 0–7`);
    expect(result.output).toContain(`${file}:4:1: error PIPE4020: stage 3 microbatch 0 is never run forward (F)`);
  });

  it('accepts a valid order and times it under unit costs', () => {
    const result = runTorchCsvCheck(`${fixtures}ScheduleZBVZeroBubble_p4_m8_v2.csv`, options);
    expect(result.exitCode).toBe(0);
    expect(result.output).toContain('makespan 51');
    expect(result.output).toContain('deadlock-free');
  });

  it('reports a missing file as a usage error', () => {
    const result = runTorchCsvCheck('/nonexistent/order.csv', options);
    expect(result.exitCode).toBe(2);
    expect(result.errorOutput).toContain('/nonexistent/order.csv');
  });

  it('gives JSON for tools', () => {
    const result = runTorchCsvCheck(`${fixtures}ScheduleGPipe_p4_m8_v1.csv`, { ...options, format: 'json' });
    const json = JSON.parse(result.output);
    expect(json.ok).toBe(true);
    expect(json.summary.makespan).toBe(33);
  });
});
