// compileProgram over checked programs: IR that validates against the
// schema, slots = predicted peak, replicas with allreduce, recompute and
// offload lowered and accounted, memory checked against capacity, a broken
// user schedule reported at its statement, and a deadlock-prone order caught.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkProgram } from '../../compiler/check/index.ts';
import { createMemoryHost } from '../../compiler/host.ts';
import { validateIr } from '../../compiler/ir/schema.ts';
import { compileCheckedProgram as compileProgram } from '../../compiler/compilation.ts';
import { proveDeadlockFree } from '../../compiler/schedule/deadlock.ts';
import { peakLiveActivations } from '../../compiler/schedule/memory.ts';

function program(text: string, options: { pipeline?: string } = {}) {
  const checked = checkProgram('main.pipe', createMemoryHost({ 'main.pipe': text }), options);
  const errors = checked.diagnostics.filter((d) => d.severity === 'error');
  expect(errors.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return checked.program!;
}

const MODEL = `
model mlp {
  input x: f32[batch, 32]
  target y: i32[batch]
  layer fc1 = Dense(units: 64, activation: relu)
  layer fc2 = Dense(units: 64, activation: relu)
  layer fc3 = Dense(units: 64, activation: relu)
  layer out = Dense(units: 10)
  loss softmax_cross_entropy(out, y)
}
`;

function pipelineText({ memory = '16GiB', devices = 4, replicas = 1, schedule = '1f1b', extra = '', schedules = '' } = {}) {
  return `${schedules}${MODEL}
cluster local {
  device gpu[0..${devices}] memory ${memory} speed 100TFLOPS
  link gpu[*] <-> gpu[*] bandwidth 50GB/s latency 10us
}
pipeline train {
  model mlp
  cluster local
  batch 64 microbatches 8
  ${replicas > 1 ? `replicas ${replicas}` : ''}
  stages {
    s0 on gpu[0] = fc1
    s1 on gpu[1] = fc2
    s2 on gpu[2] = fc3
    s3 on gpu[3] = out
  }
  schedule ${schedule}
  ${extra}
  optimizer adam(lr: 1e-3)
}
`;
}

describe('compileProgram', () => {
  it('emits an IR that validates, with slots = the predicted peak and every instruction traced to its source', () => {
    const result = compileProgram(program(pipelineText()));
    expect(result.diagnostics).toEqual([]);
    const ir = result.ir!;
    expect(validateIr(ir).errors).toEqual([]);
    expect(ir.devices.map((d) => d.slots)).toEqual(peakLiveActivations(result.schedule!));
    expect(ir.devices.map((d) => d.slots)).toEqual([4, 3, 2, 1]);
    expect(ir.model.layers[0].inputShape).toEqual([32]);
    expect(ir.model.input.shape).toEqual([32]);
    const compute = ir.devices[0].instructions.filter((i) => i.op === 'forward');
    expect(compute).toHaveLength(8);
    expect(compute.every((i) => i.source?.file === 'std:schedules')).toBe(true);
    // first stage loads inputs; last stage loads targets and computes the loss
    expect(ir.devices[0].instructions[0]).toMatchObject({ op: 'load_microbatch', stage: 0, microbatch: 0, slot: 0 });
    const last = ir.devices[3].instructions;
    expect(last.slice(0, 4).map((i) => i.op)).toEqual(['recv_act', 'load_microbatch', 'forward', 'loss']);
    expect(proveDeadlockFree(ir).deadlockFree).toBe(true);
    // memory: adam keeps 2 states per parameter
    const memory = ir.devices[0].memory;
    expect(memory.optimizerState).toBe(2 * memory.weights);
    expect(memory.peak).toBe(memory.weights + memory.gradients + memory.optimizerState + memory.activations);
    expect(memory.capacity).toBe(16 * 2 ** 30);
  });

  it('replicates the streams per replica with an allreduce of each stage\'s gradients before its optimizer step', () => {
    const result = compileProgram(program(pipelineText({ devices: 8, replicas: 2 })));
    expect(result.diagnostics).toEqual([]);
    const ir = result.ir!;
    expect(validateIr(ir).errors).toEqual([]);
    expect(ir.devices.map((d) => [d.index, d.replica, d.rank])).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => [i, Math.floor(i / 4), i % 4]));
    const tail = ir.devices[5].instructions.slice(-2);
    expect(tail.map((i) => i.op)).toEqual(['allreduce', 'optimizer_step']);
    expect(tail[0]).toMatchObject({ stage: 1, group: [1, 5] });
    expect(tail[0].bytes).toBe(ir.devices[5].memory.weights);
  });

  it('lowers recompute and offload, and accounts for them in memory', () => {
    const plain = compileProgram(program(pipelineText({ schedule: 'gpipe' }))).ir!;
    const result = compileProgram(program(pipelineText({ schedule: 'gpipe', extra: 'recompute s0\n  offload s1' })));
    expect(result.diagnostics).toEqual([]);
    const ir = result.ir!;
    expect(validateIr(ir).errors).toEqual([]);
    const ops0 = ir.devices[0].instructions.map((i) => i.op);
    const ops1 = ir.devices[1].instructions.map((i) => i.op);
    expect(ops0.filter((op) => op === 'recompute')).toHaveLength(8);
    expect(ops0.indexOf('recompute')).toBe(ops0.indexOf('backward') - 1);
    expect(ops1.filter((op) => op === 'offload')).toHaveLength(8);
    // reload comes right after the gradient arrives and before the backward
    const firstBackward = ops1.indexOf('backward');
    expect(ops1.slice(firstBackward - 2, firstBackward + 1)).toEqual(['recv_grad', 'reload', 'backward']);
    expect(ir.devices[0].memory.activations).toBeLessThan(plain.devices[0].memory.activations);
    expect(ir.devices[1].memory.activations).toBeLessThan(plain.devices[1].memory.activations);
    expect(ir.stages[0].recompute).toBe(true);
    expect(ir.stages[1].offload).toBe(true);
  });

  it('rejects a device whose peak memory exceeds its capacity, with the breakdown', () => {
    const result = compileProgram(program(pipelineText({ memory: '64KiB' })));
    const error = result.diagnostics.find((d) => d.code === 'PIPE5001');
    expect(error).toBeDefined();
    expect(error!.message).toMatch(/^device (\d) \(gpu\[\1\]\) needs .* but has 64 KiB: weights .* \+ gradients .* \+ optimizer state .* \+ activations/);
    expect(error!.related[0].message).toContain('has 64 KiB');
  });

  it('reports a user schedule that leaves out a backward at its statement', () => {
    const schedules = `
schedule broken(p, m) {
  on device d {
    F[0..m]
    B[0..m - 1]
  }
}
`;
    const text = pipelineText({ schedule: 'broken', schedules });
    const result = compileProgram(program(text));
    expect(result.ir).toBeUndefined();
    const messages = result.diagnostics.map((d) => d.message);
    expect(messages).toContain('stage 0 microbatch 7 is never run backward (B, or I and W)');
  });

  it('reports an order whose devices wait on each other, naming the device, the step and what it waits for', () => {
    // Device 0 runs B0 before sending F1; device 1 wants F1 before it will
    // produce B0's gradient: a circular wait across devices.
    const schedules = `
schedule crossed(p, m) {
  on device d {
    if d == 0 { F[0]; B[0]; F[1]; B[1] }
    else { F[1]; F[0]; B[0]; B[1] }
  }
}
`;
    const text = pipelineText({ schedule: 'crossed', schedules })
      .replace('microbatches 8', 'microbatches 2').replace('batch 64', 'batch 8')
      .replace(/s0 on gpu\[0\] = fc1[^}]*/, 's0 on gpu[0] = fc1, fc2\n    s1 on gpu[1] = fc3, out\n  ')
      .replace('gpu[0..4]', 'gpu[0..2]');
    const result = compileProgram(program(text));
    expect(result.ir).toBeUndefined();
    const problems = result.diagnostics.filter((d) => d.code === 'PIPE4024');
    expect(problems.map((d) => d.message)).toEqual([
      '0B0 on device 0 step 1 needs 1B/I0 (device 1), which can never finish before it: device 1 is itself stuck at step 0 (1F1) before reaching it',
      '1F1 on device 1 step 0 needs 0F1 (device 0), which can never finish before it: device 0 is itself stuck at step 1 (0B0) before reaching it',
    ]);
    expect(text.slice(problems[0].span.start, problems[0].span.end)).toBe('B[0]');
  });

  it('schedule auto stays within the memory it is given (here: 1F1B\'s activations) and validates', () => {
    const result = compileProgram(program(pipelineText({ schedule: 'auto(memory: 1.0 * activations(1f1b))' })));
    expect(result.diagnostics).toEqual([]);
    expect(validateIr(result.ir!).errors).toEqual([]);
    peakLiveActivations(result.schedule!).forEach((peak, rank) => expect(peak).toBeLessThanOrEqual(4 - rank));
  });

  it('compiles every sample program to an IR that validates', () => {
    const samples = new URL('../../samples/', import.meta.url);
    for (const file of readdirSync(samples).filter((f) => f.endsWith('.pipe'))) {
      const text = readFileSync(new URL(file, samples), 'utf8');
      const host = createMemoryHost({ [file]: text });
      const checked = checkProgram(file, { ...host, readFile: (path) => host.readFile(path) ?? readSibling(samples, path) });
      if (!checked.program || checked.diagnostics.some((d) => d.severity === 'error')) continue;
      const result = compileProgram(checked.program);
      expect(result.diagnostics.filter((d) => d.severity === 'error'), file).toEqual([]);
      expect(validateIr(result.ir!).errors, file).toEqual([]);
    }
  });
});

function readSibling(dir: URL, path: string): string | undefined {
  try {
    return readFileSync(new URL(path, dir), 'utf8');
  } catch {
    return undefined;
  }
}
