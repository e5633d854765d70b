// The Node edge's reader of extern layers' TypeScript, loaded on first use:
// ts-morph (the TypeScript compiler) takes ~0.4 s to load, and only programs
// that declare `extern layer` need it, so every other command starts without
// it. The checker takes any ExternModuleReader; this one reads parameter
// types with ts-morph (runtime/externSignature.ts).

import { createRequire } from 'node:module';
import type { ExternModuleReader } from '../compiler/check/extern.ts';

let reader: ExternModuleReader | undefined;

export const readExternModule: ExternModuleReader = (text, path, layerName) => {
  // Sources run as .ts (type stripping); the published build runs the emitted .js.
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  reader ??= (createRequire(import.meta.url)(`./externSignature${extension}`) as { readExternModuleWithTsMorph: ExternModuleReader })
    .readExternModuleWithTsMorph;
  return reader(text, path, layerName);
};
