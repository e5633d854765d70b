import { compileForRuntime } from '../cli/runtime/compileForRuntime.ts';
import { run } from './index.ts';
const file = process.argv[2]; const shift = Number(process.argv[3]); const steps = Number(process.argv[4]);
const c = compileForRuntime(file, {});
if (c.kind !== 'ok') throw new Error('x');
const ir = { ...c.ir, data: { name: c.ir.data!.name, args: { ...c.ir.data!.args, shift } } };
const r = await run(ir, { backend: 'wasm', steps, evalEvery: 500, onEvaluation: (s, e) => console.log(s, (e.accuracy * 100).toFixed(2)) });
