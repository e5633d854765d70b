// Cross-stage skip edges through the compiler: the checker places each
// skip on its stages and charges the received tensor to the merge stage's
// stash; lowering gives every crossing edge its own tagged channel (the
// skip after the source stage's F, its gradient after the merge stage's
// B/I), which the deadlock proof covers and the simulator times on the link
// between the two devices.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateIr } from '../../compiler/ir/schema.ts';
import type { Instruction, IrProgram } from '../../compiler/ir/types.ts';
import { proveDeadlockFree } from '../../compiler/schedule/deadlock.ts';
import { simulateIr } from '../../compiler/simulate/simulate.ts';
import { compileInMemory } from '../helpers/compileFiles.ts';

const SAMPLE = readFileSync('samples/unet.pipe', 'utf8');

function compiled(text: string) {
  const compilation = compileInMemory(text, 'unet.pipe');
  expect(compilation.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return { program: compilation.program!, ir: compilation.ir!, costs: compilation.costs! };
}

/** The ops of `device` for microbatch `microbatch`, skip ops with their edge: `send_skip#1`. */
function opsOf(ir: IrProgram, device: number, microbatch: number): string[] {
  return ir.devices[device].instructions.filter((i) => i.microbatch === microbatch).map((i) => (i.edge === undefined ? i.op : `${i.op}#${i.edge}`));
}

describe('checking: skips placed on stages', () => {
  it('resolves each merge to its source and the stages of both ends, with the bytes of one microbatch', () => {
    const { program } = compiled(SAMPLE);
    const names = program.model.layers.map((layer) => layer.name);
    expect(program.model.skips.map((skip) => [names[skip.source], names[skip.merge]])).toEqual([['enc1', 'join1'], ['enc0', 'join0']]);
    // 8 rows a microbatch: enc1 gives 32 floats an example, enc0 64.
    expect(program.pipeline.skipEdges).toEqual([
      { source: 1, merge: 4, sourceStage: 0, mergeStage: 2, bytes: 8 * 32 * 4 },
      { source: 0, merge: 6, sourceStage: 0, mergeStage: 3, bytes: 8 * 64 * 4 },
    ]);
    expect(program.model.layers[4]).toMatchObject({ operator: 'Concat', args: { skip: 'enc1', axis: -1 }, outputShape: { dims: ['batch', 64] } });
  });

  it('charges a received skip to the merge stage, and nothing extra to the sender', () => {
    const { program } = compiled(SAMPLE);
    const withoutSkips = compiled(SAMPLE.replace('layer join1 = Concat(skip: enc1)', 'layer join1 = Dense(units: 64)').replace('layer join0 = Add(skip: enc0)', 'layer join0 = Dropout(rate: 0)'));
    const stash = program.pipeline.stages.map((stage) => stage.costs.activationBytes);
    // s2: dec1 keeps its input and its ReLU output (2 · 2048) plus the received enc1 (1024); s3: out's input plus enc0.
    expect(stash).toEqual([5120, 2560, 4096 + 1024, 2048 + 2048]);
    expect(stash[0]).toBe(withoutSkips.program.pipeline.stages[0].costs.activationBytes);
  });

  it('two merges of one source in one later stage share one crossing', () => {
    const text = SAMPLE.replace('layer out = Dense(units: 64)', 'layer again = Add(skip: enc0)\n  layer out = Dense(units: 64)')
      .replace('s3 on worker[3] = join0, out', 's3 on worker[3] = join0, again, out');
    const { program, ir } = compiled(text);
    expect(program.model.skips).toHaveLength(3);
    expect(program.pipeline.skipEdges.map((edge) => [edge.source, edge.merge, edge.mergeStage])).toEqual([[1, 4, 2], [0, 6, 3]]);
    expect(program.pipeline.stages[3].costs.activationBytes).toBe(2048 + 2048);
    expect(ir.devices[3].instructions.filter((i) => i.op === 'recv_skip' && i.microbatch === 0)).toHaveLength(1);
  });
});

describe('lowering: a channel per crossing edge', () => {
  it('sends the skips after the source F, receives them before the merge F, and the gradients back after B', () => {
    const { ir } = compiled(SAMPLE);
    expect(validateIr(ir).errors).toEqual([]);
    expect(ir.skipEdges).toHaveLength(2);
    expect(opsOf(ir, 0, 0)).toEqual(['load_microbatch', 'forward', 'send_act', 'send_skip#0', 'send_skip#1', 'recv_grad', 'recv_skip_grad#0', 'recv_skip_grad#1', 'backward', 'free']);
    expect(opsOf(ir, 1, 0)).toEqual(['recv_act', 'forward', 'send_act', 'recv_grad', 'backward', 'send_grad', 'free']);
    expect(opsOf(ir, 2, 0)).toEqual(['recv_act', 'recv_skip#0', 'forward', 'send_act', 'recv_grad', 'backward', 'send_grad', 'send_skip_grad#0', 'free']);
    expect(opsOf(ir, 3, 0)).toEqual(['recv_act', 'load_microbatch', 'recv_skip#1', 'forward', 'loss', 'backward', 'send_grad', 'send_skip_grad#1', 'free']);
    const skipOps = ir.devices.flatMap((device) => device.instructions.filter((i) => i.edge !== undefined).map((i) => [device.index, i.op, i.edge, i.peer, i.bytes]));
    expect(skipOps).toContainEqual([0, 'send_skip', 1, 3, 2048]);
    expect(skipOps).toContainEqual([3, 'send_skip_grad', 1, 0, 2048]);
  });

  it('with a split backward the merge stage sends the skip gradient after I, and the source waits for it before its I', () => {
    const { ir } = compiled(SAMPLE.replace('schedule 1f1b', 'schedule zb_h1'));
    expect(opsOf(ir, 2, 0).slice(4)).toEqual(['recv_grad', 'backward_input', 'send_grad', 'send_skip_grad#0', 'backward_weight', 'free']);
    expect(opsOf(ir, 0, 0).slice(5)).toEqual(['recv_grad', 'recv_skip_grad#0', 'recv_skip_grad#1', 'backward_input', 'backward_weight', 'free']);
  });

  it('a skip within one stage needs no channel', () => {
    // Three stages: enc1 → join1 inside s1; enc0 → join0 still crosses from s0 to s1.
    const text = SAMPLE.replace('worker[0..4]', 'worker[0..3]').replace(/stages \{[\s\S]*?\n {2}\}/, [
      'stages {',
      '    s0 on worker[0] = enc0',
      '    s1 on worker[1] = enc1, bottleneck, up1, join1, dec1, join0',
      '    s2 on worker[2] = out',
      '  }',
    ].join('\n'));
    const { program, ir } = compiled(text);
    expect(program.pipeline.skipEdges.map((edge) => [edge.sourceStage, edge.mergeStage])).toEqual([[1, 1], [0, 1]]);
    const skipOps = ir.devices.flatMap((d) => d.instructions).filter((i) => i.edge !== undefined);
    expect(new Set(skipOps.map((i) => i.edge))).toEqual(new Set([1]));
    expect(skipOps).toHaveLength(4 * 8);
  });
});

describe('the deadlock proof covers skip channels', () => {
  it('proves the lowered streams', () => {
    const { ir } = compiled(SAMPLE);
    expect(proveDeadlockFree({ devices: ir.devices }).deadlockFree).toBe(true);
  });

  it('reports streams that deadlock only through a skip: the source waits for a skip gradient before sending the skip', () => {
    const { ir } = compiled(SAMPLE);
    // Device 0 waits for microbatch 0's skip gradient of edge 1 before it sends microbatch 0's skips:
    // device 3's B of microbatch 0 needs that skip first.
    const stream = [...ir.devices[0].instructions];
    const wait = stream.findIndex((i) => i.op === 'recv_skip_grad' && i.edge === 1 && i.microbatch === 0);
    const [moved] = stream.splice(wait, 1);
    stream.splice(stream.findIndex((i) => i.op === 'send_skip' && i.microbatch === 0), 0, moved);
    const devices = ir.devices.map((device, index) => (index === 0 ? { ...device, instructions: stream } : device));
    const proof = proveDeadlockFree({ devices });
    expect(proof.deadlockFree).toBe(false);
    expect(proof.stuck.find((s) => s.device === 0)?.waitsFor).toBe('the skip gradient of edge 1 of stage 0, microbatch 0 from device 3');
    // Device 2 waits for the other skip device 0 never sent, and device 3 behind it for its activation.
    expect(proof.stuck.find((s) => s.device === 2)?.waitsFor).toBe('the skip of edge 0 of stage 2, microbatch 0 from device 0');
    expect(proof.stuck.map((s) => s.device)).toEqual([0, 1, 2, 3]);
    // Without the skip channels the same chain of streams finishes: the skip alone closes the cycle.
    const chainOnly = (instructions: readonly Instruction[]) => instructions.filter((i) => i.edge === undefined);
    expect(proveDeadlockFree({ devices: devices.map((device) => ({ ...device, instructions: chainOnly(device.instructions) })) }).deadlockFree).toBe(true);
  });

  it('reports a skip received from the wrong device', () => {
    const { ir } = compiled(SAMPLE);
    const devices = ir.devices.map((device) => ({
      ...device,
      instructions: device.instructions.map((i) => (i.op === 'recv_skip' && i.edge === 0 && i.microbatch === 2 ? { ...i, peer: 1 } : i)),
    }));
    const proof = proveDeadlockFree({ devices });
    expect(proof.deadlockFree).toBe(false);
    expect(proof.stuck.find((s) => s.device === 2)?.waitsFor).toBe('the skip of edge 0 of stage 2, microbatch 2 from device 1 (it was sent by device 0 to device 2)');
  });
});

describe('simulating skip channels', () => {
  it('times each skip and its gradient on the link between their devices', () => {
    const { ir, costs } = compiled(SAMPLE);
    // 1 GB/s with 100 us latency: edge 0 moves 1024 bytes, edge 1 2048.
    expect(costs.sendSkip).toHaveLength(2);
    expect(costs.sendSkip![0]).toBeCloseTo(1e-4 + 1024 / 1e9, 15);
    expect(costs.sendSkip![1]).toBeCloseTo(1e-4 + 2048 / 1e9, 15);
    const result = simulateIr(ir, costs);
    expect(result.stuck).toEqual([]);
    const skips = result.transfers.filter((t) => t.kind === 'skip' || t.kind === 'skip gradient');
    expect(skips).toHaveLength(2 * 2 * 8);
    for (const transfer of skips) {
      const edge = transfer.kind === 'skip' ? (transfer.to === 2 ? 0 : 1) : (transfer.from === 2 ? 0 : 1);
      expect(transfer.arrived - transfer.sent).toBeCloseTo(costs.sendSkip![edge], 12);
    }
    // A slower skip link delays the merge stages: the makespan grows with it.
    const slow = simulateIr(ir, { ...costs, sendSkip: costs.sendSkip!.map((time) => time * 1000) });
    expect(slow.makespan).toBeGreaterThan(result.makespan + 0.05);
  });

  it('charges the received skip in the simulated memory as the compiler predicts it', () => {
    const { ir, costs } = compiled(SAMPLE);
    const result = simulateIr(ir, costs);
    expect(result.devices.map((device) => device.memory.activations)).toEqual(ir.devices.map((device) => device.memory.activations));
    // Device 2 holds two microbatches of s2 under 1F1B, each with its received enc1.
    expect(ir.devices[2].memory.activations).toBe(2 * (4096 + 1024));
  });
});
