// The ts-morph reader of extern layers, loaded on first use: ts-morph (the
// TypeScript compiler) takes ~0.4 s to load, and only programs that declare
// `extern layer` need it, so every other command starts without it.

import { createRequire } from 'node:module';
import type { ExternModuleReader } from '../compiler/check/extern.ts';

let reader: ExternModuleReader | undefined;

export const readExternModuleLazily: ExternModuleReader = (text, path, layerName) => {
  reader ??= (createRequire(import.meta.url)('../compiler/check/externTypeScript.ts') as { readExternModuleWithTsMorph: ExternModuleReader })
    .readExternModuleWithTsMorph;
  return reader(text, path, layerName);
};
