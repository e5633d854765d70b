// `npm run playground:build`: bundles the playground into static files in
// playground/dist/ (any static server can serve them; `npm run playground`
// builds and serves them on 127.0.0.1). No CDN, no network. The bundle may reach only the browser-safe faces; a Node built-in
// anywhere in its import graph fails the build, naming the importer.

import { build, type Plugin } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = new URL('./', import.meta.url);
export const PLAYGROUND_DIST = fileURLToPath(new URL('dist/', here));

/** Every file under samples/ by its relative path: the sample picker and the files samples import. */
function readSamples(): Record<string, string> {
  const root = new URL('../samples/', here);
  const files: Record<string, string> = {};
  const walk = (relative: string): void => {
    for (const name of readdirSync(new URL(relative, root)).sort()) {
      const path = `${relative}${name}`;
      if (statSync(new URL(path, root)).isDirectory()) walk(`${path}/`);
      else if (/\.(pipe|ts)$/.test(name)) files[path] = readFileSync(new URL(path, root), 'utf8');
    }
  };
  walk('');
  return files;
}

const samplesModule: Plugin = {
  name: 'pipec-samples',
  setup(build) {
    build.onResolve({ filter: /^virtual:pipec-samples$/ }, (args) => ({ path: args.path, namespace: 'pipec-samples' }));
    build.onLoad({ filter: /.*/, namespace: 'pipec-samples' }, () => ({ contents: JSON.stringify(readSamples()), loader: 'json' }));
  },
};

const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** esbuild's browser platform would only fail to resolve these; say why instead. */
const refuseNodeBuiltins: Plugin = {
  name: 'refuse-node-builtins',
  setup(build) {
    build.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
      if (!NODE_BUILTINS.has(args.path) && !args.path.startsWith('node:')) return undefined;
      return { errors: [{ text: `'${args.path}' is a Node built-in, imported by ${args.importer}: the playground may use only the browser-safe compiler entry` }] };
    });
  },
};

export interface PlaygroundBuild {
  readonly outdir: string;
  /** Bytes per emitted file name. */
  readonly sizes: Readonly<Record<string, number>>;
}

/** Bundles `entry` (default: the playground app) and copies the page, its style and the syntax diagrams next to it. */
export async function buildPlayground(options: { readonly outdir?: string; readonly entry?: string } = {}): Promise<PlaygroundBuild> {
  const outdir = options.outdir ?? PLAYGROUND_DIST;
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: { app: options.entry ?? fileURLToPath(new URL('app.ts', here)) },
    outdir,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2023',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [refuseNodeBuiltins, samplesModule],
  });
  copyFileSync(new URL('index.html', here), `${outdir}/index.html`);
  copyFileSync(new URL('style.css', here), `${outdir}/style.css`);
  copyFileSync(new URL('../docs/syntax-diagrams.html', here), `${outdir}/syntax-diagrams.html`);
  const sizes = Object.fromEntries(readdirSync(outdir).map((name) => [name, statSync(`${outdir}/${name}`).size]));
  return { outdir, sizes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { outdir, sizes } = await buildPlayground();
  for (const [name, size] of Object.entries(sizes)) console.log(`${name.padEnd(22)} ${(size / 1024).toFixed(1).padStart(7)} KiB`);
  console.log(`wrote ${outdir}; \`npm run playground\` serves it (a module script does not load from file://)`);
}
