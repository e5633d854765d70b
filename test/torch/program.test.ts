// The text side of `pipec export --torch` (compiler/torch/program.ts), the
// safetensors codec, and the tensors the runtime writes beside it. Running
// the generated program on PyTorch is test/torch-runtime/program.torch.ts
// (`npm run test:torch`).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.ts';
import { decodeSafetensors, encodeSafetensors, torchProgramFiles } from '../../compiler/index.ts';
import { pipecTorchPy, trainPy } from '../../compiler/torch/pythonSources.ts';
import { initialValues, torchExport } from '../../runtime/index.ts';
import { compileOnDisk } from '../helpers/compileFiles.ts';
import { captureOutput } from '../helpers/smallProgram.ts';

const root = path.resolve(import.meta.dirname, '../..');
const IMAGE_LAYERS_PARAMETERS = [
  'conv/kernel', 'conv/bias', 'hidden/kernel', 'hidden/bias', 'res.norm/gamma', 'res.norm/beta', 'res.inner/kernel', 'logits/kernel', 'logits/bias',
];

function exported(file: string) {
  const compilation = compileOnDisk(path.join(root, file));
  expect(compilation.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const ir = compilation.ir!;
  return { ir, compilation };
}

describe('the Python sources', () => {
  it('pythonSources.ts is generated from compiler/torch/python/*.py (npx node compiler/torch/python/generate.ts)', () => {
    expect(pipecTorchPy).toBe(readFileSync(path.join(root, 'compiler/torch/python/pipec_torch.py'), 'utf8'));
    expect(trainPy).toBe(readFileSync(path.join(root, 'compiler/torch/python/train.py'), 'utf8'));
  });
});

describe('safetensors', () => {
  it('writes the 8-byte little-endian header length, a JSON header padded to 8 bytes and little-endian data', () => {
    const bytes = encodeSafetensors([
      { name: 'a', shape: [2], data: new Float32Array([1.5, -2]) },
      { name: 'b', shape: [1, 1], data: new Int32Array([-7]) },
    ]);
    const view = new DataView(bytes.buffer);
    const length = Number(view.getBigUint64(0, true));
    expect(length % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
    expect(header).toEqual({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'I32', shape: [1, 1], data_offsets: [8, 12] } });
    expect(view.getFloat32(8 + length, true)).toBe(1.5);
    expect(view.getInt32(8 + length + 8, true)).toBe(-7);
    const back = decodeSafetensors(bytes);
    expect(Array.from(back.get('a')!.data)).toEqual([1.5, -2]);
    expect(back.get('b')).toMatchObject({ shape: [1, 1] });
    expect(Array.from(back.get('b')!.data)).toEqual([-7]);
  });

  it('refuses a shape that does not hold its values, and a name used twice', () => {
    expect(() => encodeSafetensors([{ name: 'a', shape: [3], data: new Float32Array(2) }])).toThrow(/2 values for shape \[3\]/);
    expect(() => encodeSafetensors([{ name: 'a', shape: [1], data: new Float32Array(1) }, { name: 'a', shape: [1], data: new Float32Array(1) }])).toThrow(/two tensors/);
  });
});

describe('torchProgramFiles', () => {
  it('writes a stage module per stage, the compute_comms CSV and what train.py reads', () => {
    const { ir, compilation } = exported('samples/mlp.pipe');
    const files = torchProgramFiles(ir, compilation.schedule!, { steps: 1500, sourceFile: 'samples/mlp.pipe', externParameters: new Map() });
    expect([...files.keys()].sort()).toEqual(['README.md', 'model.py', 'pipec_torch.py', 'program.json', 'schedule.csv', 'train.py']);
    const model = files.get('model.py')!;
    expect(model).toContain('class Stage0(PipecStage):');
    expect(model).toContain('Dense("fc1", 784, 256, activation="relu", bias=True)');
    expect(model).toContain('Dense("out", 256, 10, activation="none", bias=True)');
    expect(model).toContain('STAGES = [Stage0, Stage1, Stage2, Stage3]');
    const program = JSON.parse(files.get('program.json')!);
    expect(program).toMatchObject({ steps: 1500, ranks: 4, microbatches: 8, microbatchSize: 8, loss: 'softmax_cross_entropy', optimizer: { name: 'adam', args: { lr: 1e-3 } } });
    expect(program.data).toEqual({ name: 'mnist', args: { holdout: 2000, seed: 1, shift: 2 } });
    expect(program.stages[0]).toMatchObject({ rank: 0, inputShape: [784], inputDtype: 'f32', outputShape: [256] });
    expect(files.get('schedule.csv')!.split('\n')[0]).toMatch(/^0F0,0SEND_F0,/);
    const readme = files.get('README.md')!;
    expect(readme).toContain('torchrun --nproc-per-node 4 train.py --steps 1500');
    expect(readme).toContain('torchrun --nnodes 2 --nproc-per-node 2 --node-rank K --master-addr HOST0');
  });

  it('keeps the V placement\'s stage → rank map, recompute, and every catalog kind', () => {
    const image = exported('test/fixtures/torch/image_layers.pipe');
    const imageFiles = torchProgramFiles(image.ir, image.compilation.schedule!, { steps: 100, sourceFile: 'image_layers.pipe', externParameters: new Map() });
    expect(JSON.parse(imageFiles.get('program.json')!).stages.map((s: { rank: number; recompute: boolean }) => [s.rank, s.recompute]))
      .toEqual([[0, false], [1, true], [1, false], [0, false]]);
    const imageModel = imageFiles.get('model.py')!;
    for (const constructor of [
      'Conv2D("conv", 2, 4, 3, stride=2, padding="same", activation="tanh")', 'MaxPool("pool", 2, 1)', 'Flatten("flat")',
      'Dense("hidden", 64, 24, activation="gelu", bias=True)', 'Dropout("drop", 0.25)', 'Residual("res", [',
      'LayerNorm("res.norm", 24, eps=0.001)', 'Dense("res.inner", 24, 24, activation="tanh", bias=False)', 'Activation("act", "relu")', 'Softmax("probabilities")',
    ]) expect(imageModel).toContain(constructor);
    expect(imageModel).toContain('super().__init__("s1", recompute=True');
    const sequence = exported('test/fixtures/torch/sequence_layers.pipe');
    const sequenceModel = torchProgramFiles(sequence.ir, sequence.compilation.schedule!, { steps: 100, sourceFile: 'x.pipe', externParameters: new Map() }).get('model.py')!;
    expect(sequenceModel).toContain('Embedding("embed", 11, 8)');
    expect(sequenceModel).toContain('MultiHeadAttention("attend", 8, heads=2, causal=False)');
    expect(sequenceModel).toContain('TransformerBlock("block", 8, heads=2, ff=16, causal=True, dropout=0.2, norm_eps=0.00001, activation="gelu")');
  });

  it('writes an extern layer as a stub that creates its parameters and raises NotImplementedError', async () => {
    const { ir, compilation } = exported('samples/swiglu.pipe');
    const tensors = await torchExport(ir, { baseDirectory: root });
    const files = torchProgramFiles(ir, compilation.schedule!, { steps: 100, sourceFile: 'samples/swiglu.pipe', externParameters: tensors.externParameters });
    expect(files.get('model.py')).toContain('extern_layers.SwiGLU("ffn[0].glu", input_shape=[64], parameters={"gate": [64, 128], "up": [64, 128], "down": [128, 64]}, hidden=128)');
    const stub = files.get('extern_layers.py')!;
    expect(stub).toContain('class SwiGLU(PipecLayer):');
    expect(stub).toContain('raise NotImplementedError(');
    expect(stub).toMatch(/\(SwiGLU, \S*samples\/layers\/swiglu\.ts\) has no PyTorch forward/);
    expect(tensors.weights.map((w) => w.name)).toContain('ffn[0].glu/gate');
  });
});

describe('torchExport (the runtime\'s tensors)', () => {
  it('writes every parameter with the runtime\'s initial values, and every training example', async () => {
    const { ir } = exported('test/fixtures/torch/image_layers.pipe');
    const tensors = await torchExport(ir, { baseDirectory: root });
    expect(tensors.weights.map((w) => w.name)).toEqual(IMAGE_LAYERS_PARAMETERS);
    const kernel = tensors.weights[0];
    expect(kernel.shape).toEqual([3, 3, 2, 4]);
    expect(Array.from(kernel.data)).toEqual(Array.from(initialValues({ name: 'conv/kernel', shape: [3, 3, 2, 4], init: { kind: 'glorot_uniform', fanIn: 18, fanOut: 36 } }, ir.seed)));
    const [input, target] = tensors.data;
    // synthetic(examples: 96) holds out 96 / 8 = 12.
    expect(input).toMatchObject({ name: 'train/input', shape: [84, 9, 9, 2] });
    expect(target).toMatchObject({ name: 'train/target', shape: [84] });
    expect(target.data).toBeInstanceOf(Int32Array);
  });
});


describe('pipec export --torch and pipec verify --dump-grads', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'pipec-torch-export-'));
  afterEach(() => { vi.restoreAllMocks(); });

  it('writes the program directory, and says how to launch it', async () => {
    const io = captureOutput();
    const out = path.join(directory, 'image_layers');
    expect(await main(['node', 'pipec', 'export', path.join(root, 'test/fixtures/torch/image_layers.pipe'), '--torch', out])).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['README.md', 'data.safetensors', 'model.py', 'pipec_torch.py', 'program.json', 'schedule.csv', 'train.py', 'weights.safetensors']);
    // Two replicas of two ranks: four processes.
    expect(io.out()).toContain(`(cd ${out} && torchrun --nproc-per-node 4 train.py)`);
    const readme = readFileSync(path.join(out, 'README.md'), 'utf8');
    expect(readme).toContain('torchrun --nproc-per-node 4 train.py --steps 100');
    expect(readme).toContain('2 pipeline ranks × 2 data-parallel replicas');
    const weights = decodeSafetensors(readFileSync(path.join(out, 'weights.safetensors')));
    expect([...weights.keys()]).toEqual(IMAGE_LAYERS_PARAMETERS);
  });

  it('needs exactly one of --torch-csv and --torch', async () => {
    const io = captureOutput();
    expect(await main(['node', 'pipec', 'export', path.join(root, 'samples/mlp.pipe')])).toBe(2);
    expect(await main(['node', 'pipec', 'export', path.join(root, 'samples/mlp.pipe'), '--torch', directory, '--torch-csv', '-'])).toBe(2);
    expect(io.err()).toContain('give one of --torch-csv OUT and --torch DIR');
  });

  it('verify --dump-grads writes the step-0 gradients under the parameter names, with their shapes', async () => {
    captureOutput();
    const file = path.join(directory, 'grads.safetensors');
    expect(await main(['node', 'pipec', 'verify', path.join(root, 'test/fixtures/torch/image_layers.pipe'), '--dump-grads', file])).toBe(0);
    const gradients = decodeSafetensors(readFileSync(file));
    expect([...gradients.keys()]).toEqual(IMAGE_LAYERS_PARAMETERS);
    expect(gradients.get('conv/kernel')!.shape).toEqual([3, 3, 2, 4]);
    expect(gradients.get('res.inner/kernel')!.shape).toEqual([24, 24]);
    expect(Math.max(...gradients.get('conv/kernel')!.data.map(Math.abs))).toBeGreaterThan(0);
  });

  it('says so, exit 2, when it cannot write the gradients', async () => {
    const io = captureOutput();
    const unwritable = path.join(directory, 'no-such-directory', 'grads.safetensors');
    expect(await main(['node', 'pipec', 'verify', path.join(root, 'test/fixtures/torch/sequence_layers.pipe'), '--dump-grads', unwritable])).toBe(2);
    expect(io.err()).toContain(unwritable);
    rmSync(directory, { recursive: true, force: true });
  });
});
