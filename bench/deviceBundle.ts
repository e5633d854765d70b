// Bundles the benchmarks that run on the lent GPU machine, where
// node_modules (hundreds of MB) cannot travel but one folder can:
//   OUT_DIR/bench.mjs            bench/gpu.ts (webgpu vs cpu training)
//   OUT_DIR/rt/runtime.js        bench/runtime.ts (worker scaling, overhead)
//   OUT_DIR/rt/worker.js         runtime/worker.ts, next to runtime.js because
//                                runtime/workers.ts starts './worker.js' relative
//                                to its own module URL
// Usage: node bench/deviceBundle.ts [OUT_DIR]   (default .gpu)

import { build, type BuildOptions } from 'esbuild';

const out = process.argv[2] ?? '.gpu';

const common: BuildOptions = {
  bundle: true,
  minify: true,
  platform: 'node',
  format: 'esm',
  // jsonc-parser's CommonJS build loads its parts with a computed require that a bundle cannot follow; its ESM build can be bundled.
  mainFields: ['module', 'main'],
  // Optional backends stay outside: webgpu travels as its own package folder, the tfjs-node ones are never on that machine.
  external: ['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-wasm'],
  // Some bundled CommonJS code calls require(); an ESM bundle has none unless we make one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
};

await build({ ...common, entryPoints: ['bench/gpu.ts'], outfile: `${out}/bench.mjs` });
await build({ ...common, entryPoints: ['bench/runtime.ts', 'runtime/worker.ts'], outdir: `${out}/rt`, entryNames: '[name]' });
process.stdout.write(`bundled into ${out}/bench.mjs and ${out}/rt/{runtime,worker}.js\n`);
