// Checkpoints read defensively (issue 12, part 5): after the checksum every
// field is checked, so a checkpoint that was hand-edited and re-signed, or
// written by another program, is refused with the field named — never a
// crash, never "step -4/6". Writes leave no NaN checkpoint and no stale
// temporary file; the library's run() refuses IR that fails its schema.

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IrProgram } from '../../compiler/ir/types.ts';
import { readCheckpoint, removeStaleTemporaries, writeCheckpoint, programFingerprint } from '../../runtime/checkpoint.ts';
import { run } from '../../runtime/index.ts';
import { handMlpIr } from './helpers/handIr.ts';

const ir = handMlpIr('1f1b', 2, 4, { optimizer: { name: 'adam', args: { lr: 0.01 } } });
const directory = mkdtempSync(join(tmpdir(), 'pipec-checkpoint-fields-'));
const file = join(directory, 'checkpoint.json');
let good = '';

beforeAll(async () => {
  await run(ir, { steps: 2, checkpointDirectory: directory });
  good = readFileSync(file, 'utf8');
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** The good checkpoint with its body edited and signed again, as a careful vandal would. */
function resigned(edit: (body: Record<string, any>) => void): string {
  const newline = good.indexOf('\n');
  const header = JSON.parse(good.slice(0, newline));
  const body = JSON.parse(good.slice(newline + 1));
  edit(body);
  const text = JSON.stringify(body);
  return `${JSON.stringify({ ...header, sha256: createHash('sha256').update(text).digest('hex') })}\n${text}\n`;
}

function refusal(text: string): string {
  writeFileSync(file, text);
  try {
    readCheckpoint(directory, ir);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the checkpoint was accepted');
}

describe('a checkpoint is validated field by field after its checksum', () => {
  it('accepts the checkpoint it wrote', () => {
    writeFileSync(file, good);
    const checkpoint = readCheckpoint(directory, ir);
    expect(checkpoint.step).toBe(2);
    expect(checkpoint.losses).toHaveLength(2);
    expect(Object.keys(checkpoint.stages)).toEqual(['0', '1']);
  });

  it.each([
    ['step: -5', (b: any) => { b.step = -5; }, /step is -5, not a step count/],
    ['a fractional step', (b: any) => { b.step = 1.5; }, /step is 1.5/],
    ['losses that do not match the step', (b: any) => { b.losses = [1]; }, /losses has 1 entries for 2 steps/],
    ['a NaN loss', (b: any) => { b.losses = [1, null]; }, /losses is not a list of finite numbers/],
    ['a missing stage', (b: any) => { delete b.stages['1']; }, /no state for stage 1/],
    ['an extra stage', (b: any) => { b.stages['7'] = b.stages['0']; }, /state for stage 7, which the program does not have/],
    ['bad base64', (b: any) => { const p = Object.values(b.stages['0'].parameters)[0] as any; p.base64 = `!!${p.base64.slice(2)}`; }, /parameter '.*' of stage 0 holds data that is not base64/],
    ['too few values for the shape', (b: any) => { const p = Object.values(b.stages['0'].parameters)[0] as any; p.base64 = p.base64.slice(0, 8); }, /values for the shape/],
    ['a shape that is no shape', (b: any) => { const p = Object.values(b.stages['0'].parameters)[0] as any; p.shape = ['x']; }, /has the shape \["x"\], not a list of sizes/],
    ['optimizerSteps below zero', (b: any) => { b.stages['0'].optimizerSteps = -1; }, /stage 0 has optimizerSteps -1/],
    ['no parameters record', (b: any) => { delete b.stages['1'].parameters; }, /stage 1 lacks its parameters/],
  ])('refuses %s, naming the field', (_name, edit, message) => {
    const refused = refusal(resigned(edit));
    expect(refused).toMatch(/^PIPE6009: /);
    expect(refused).toMatch(message);
  });

  it('refuses another program\'s checkpoint, a future format version and a torn header', () => {
    expect(refusal(resigned((b) => { b.fingerprint = programFingerprint(handMlpIr('1f1b', 2, 4, { seed: 99 })); }))).toMatch(/written for a different model/);
    expect(refusal(good.replace('"version":1', '"version":2'))).toMatch(/version 2 of the format/);
    expect(refusal(good.slice(0, 20))).toMatch(/not a pipec checkpoint/);
    expect(refusal(good.slice(0, good.indexOf('\n')))).toMatch(/truncated \(no body/);
    const header = JSON.parse(good.slice(0, good.indexOf('\n')));
    const signed = (body: string) => `${JSON.stringify({ ...header, sha256: createHash('sha256').update(body).digest('hex') })}\n${body}\n`;
    expect(refusal(signed('[1, 2]'))).toMatch(/its body is not an object/);
    expect(refusal(signed('{"step": 1'))).toMatch(/its body is not JSON/);
    expect(refusal(good.slice(0, good.length / 2))).toMatch(/corrupt or truncated/);
  });

  it('finds a wrong shape when the stage is built: a parameter of the same size but another shape', async () => {
    const wrongShape = resigned((b) => {
      const [name] = Object.keys(b.stages['0'].parameters).filter((key) => b.stages['0'].parameters[key].shape.length === 2);
      const parameter = b.stages['0'].parameters[name];
      parameter.shape = [...parameter.shape].reverse();
    });
    writeFileSync(file, wrongShape);
    await expect(run(ir, { steps: 3, resumeDirectory: directory })).rejects.toThrow(/PIPE6009: the checkpoint's parameter '.*' of stage 0 has the shape \[16, 12\]; the program's is \[12, 16\]/);
    writeFileSync(file, good);
  });
});

describe('writing checkpoints', () => {
  it('refuses to write NaN, leaving the previous checkpoint as it was', () => {
    writeFileSync(file, good);
    const checkpoint = readCheckpoint(directory, ir);
    const first = Object.keys(checkpoint.stages[0].parameters)[0];
    const poisoned = structuredClone(checkpoint) as typeof checkpoint;
    (poisoned.stages[0].parameters[first].values as Float32Array)[3] = Number.NaN;
    expect(() => writeCheckpoint(directory, poisoned)).toThrow(/PIPE6004: the parameter '.*' of stage 0 contains NaN or Inf; no checkpoint was written/);
    expect(() => writeCheckpoint(directory, { ...checkpoint, losses: [1, Number.NaN] })).toThrow(/the loss of step 2 is NaN/);
    expect(readFileSync(file, 'utf8')).toBe(good);
  });

  it('removes the temporary files of dead writers, not of live ones', () => {
    const dead = join(directory, '.checkpoint.json.999999999.tmp');
    const live = join(directory, `.checkpoint.json.${process.ppid}.tmp`);
    writeFileSync(dead, 'half a checkpoint');
    writeFileSync(live, 'a checkpoint being written');
    expect(removeStaleTemporaries(directory)).toEqual(['.checkpoint.json.999999999.tmp']);
    expect(existsSync(live)).toBe(true);
    rmSync(live);
    expect(readdirSync(directory).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});

describe('run() checks what it is given before it starts', () => {
  it('imports extern modules only from the allowed folders (importing runs them)', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'pipec-outside-'));
    try {
      const marker = join(outside, 'ran');
      const module = join(outside, 'evil.ts');
      writeFileSync(module, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport default {};\n`);
      const withExtern: IrProgram = { ...ir, model: { ...ir.model, layers: ir.model.layers.map((layer, i) => i === 0 ? { ...layer, operator: 'Evil', implementation: module } : layer) } };
      await expect(run(withExtern, { steps: 1 })).rejects.toThrow(/PIPE6011: the module of extern layer 'Evil', .*evil\.ts, is outside .*; it was not loaded/);
      expect(existsSync(marker)).toBe(false);
      // Allowed, it is imported (and then refused for what it exports).
      await expect(run(withExtern, { steps: 1, externFolders: ['.', outside] })).rejects.toThrow(/PIPE6011: .*must export default defineLayer/);
      expect(existsSync(marker)).toBe(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('refuses an unknown op by name instead of skipping it', async () => {
    const broken: IrProgram = { ...ir, devices: ir.devices.map((d, i) => i !== 1 ? d : { ...d, instructions: d.instructions.map((ins, j) => j === 3 ? { ...ins, op: 'teleport' as never } : ins) }) };
    await expect(run(broken, { steps: 1 })).rejects.toThrow(/PIPE6252: the IR does not match the IR schema: device gpu\[1\] instruction 3 has the unknown op "teleport"/);
  });

  it('refuses IR that lacks a field', async () => {
    const { devices: _devices, ...withoutDevices } = ir;
    await expect(run(withoutDevices as IrProgram, { steps: 1 })).rejects.toThrow(/PIPE6252: .*must have required property 'devices'/);
  });
});
