// The published package runs the emitted dist/ (Node does not strip types
// under node_modules): build it, pack it, install the tarball into a fresh
// project and use it the way a consumer does: plain JS on Node >= 22, a
// TypeScript project with skipLibCheck off, a browser bundle of
// `pipec/compiler`, a layer of the user's own importing `pipec/runtime`, and
// an older Node told what to run instead. One file, so dist/ is built once.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tsc = join(root, 'node_modules/typescript/bin/tsc');

beforeAll(() => {
  execFileSync(process.execPath, ['scripts/build.ts'], { cwd: root, stdio: 'pipe' });
}, 300_000);

describe('published build', () => {
  it('compiles and simulates a sample through dist/', async () => {
    const pipec = await import(new URL('../../dist/index.js', import.meta.url).href);
    const text = readFileSync(new URL('../../samples/gpt.pipe', import.meta.url), 'utf8');
    const compiled = pipec.compile('gpt.pipe', pipec.createMemoryHost({ 'gpt.pipe': text }));
    expect(compiled.diagnostics).toEqual([]);
    expect(compiled.ir.devices).toHaveLength(4);
    expect(pipec.validateIr(compiled.ir).valid).toBe(true);
    const simulation = pipec.simulateIr(compiled.ir, pipec.deriveCostModel(compiled.program));
    expect(simulation.makespan).toBeGreaterThan(0);
  });

  it('the package exports name built files, and the sources only under the repository\'s own condition', () => {
    for (const [entry, target] of Object.entries<Record<string, string> | string>(manifest.exports)) {
      const conditions = typeof target === 'string' ? { default: target } : target;
      for (const [condition, path] of Object.entries(conditions)) {
        if (condition === 'pipec-sources') expect(path, entry).toMatch(/^\.\/(index|compiler\/index|runtime\/index)\.ts$/);
        else expect(path, entry).toMatch(/^\.\/(dist\/.*\.(js|d\.ts)|package\.json)$/);
      }
    }
  });
});

/** A `node` on PATH older than 22 (these machines have 20), outside any node_modules. */
function olderNode(): string | undefined {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(folder, 'node');
    if (folder.includes('node_modules') || !existsSync(candidate)) continue;
    const version = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    if (Number(version.split('.')[0]) < 22) return candidate;
  }
  return undefined;
}

describe('the packed package in a fresh project', () => {
  const project = mkdtempSync(join(tmpdir(), 'pipec-consumer-'));
  const figures: string[] = [];
  let tarball: string;

  beforeAll(() => {
    const started = performance.now();
    // dist/ is built above; prepack would only build it again.
    const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project], { cwd: root, encoding: 'utf8' });
    tarball = join(project, JSON.parse(packed)[0].filename);
    const packedAt = performance.now();
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    // Its dependencies come from npm's cache when they are there (offline after the first run).
    execFileSync('npm', ['install', tarball, `@types/node@${manifest.devDependencies['@types/node']}`, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, stdio: 'pipe' });
    figures.push(`npm pack ${((packedAt - started) / 1000).toFixed(1)} s (${(statSync(tarball).size / 1024).toFixed(0)} KiB), npm install ${((performance.now() - packedAt) / 1000).toFixed(1)} s`);
  }, 600_000);

  afterAll(() => {
    console.log(`package figures: ${figures.join('; ')}`);
    rmSync(project, { recursive: true, force: true });
  });

  const node = (args: readonly string[], nodePath = process.execPath) => spawnSync(nodePath, args, { cwd: project, encoding: 'utf8' });

  it('runs from plain JavaScript: the library, the runtime entry and the command', () => {
    writeFileSync(join(project, 'use.mjs'), [
      "import { readFileSync } from 'node:fs';",
      "import { compile, createMemoryHost, simulateIr, deriveCostModel } from 'pipec';",
      "import { defineLayer, listBackends } from 'pipec/runtime';",
      "const text = readFileSync('node_modules/pipec/samples/mlp.pipe', 'utf8');",
      "const { ir, program, diagnostics } = compile('main.pipe', createMemoryHost({ 'main.pipe': text }));",
      "console.log(JSON.stringify({ diagnostics: diagnostics.length, bubble: simulateIr(ir, deriveCostModel(program)).bubble, defineLayer: typeof defineLayer, cpu: (await listBackends()).some((b) => b.name === 'cpu' && b.available) }));",
    ].join('\n'));
    const ran = node(['use.mjs']);
    expect(ran.stderr).toBe('');
    const result = JSON.parse(ran.stdout);
    expect(result).toMatchObject({ diagnostics: 0, defineLayer: 'function', cpu: true });
    expect(result.bubble).toBeGreaterThan(0);
    const version = node(['node_modules/.bin/pipec', '--version']);
    expect(version.stdout.trim()).toBe(manifest.version);
  });

  it("trains a user's own copy of the SwiGLU sample, whose layer imports pipec/runtime", () => {
    mkdirSync(join(project, 'mine/layers'), { recursive: true });
    cpSync(join(project, 'node_modules/pipec/samples/swiglu.pipe'), join(project, 'mine/swiglu.pipe'));
    cpSync(join(project, 'node_modules/pipec/samples/layers/swiglu.ts'), join(project, 'mine/layers/swiglu.ts'));
    expect(readFileSync(join(project, 'mine/layers/swiglu.ts'), 'utf8')).toContain("from 'pipec/runtime'");
    const checked = node(['node_modules/.bin/pipec', 'check', 'mine/swiglu.pipe']);
    expect(checked.stdout + checked.stderr).toContain('ok: pipeline train_swiglu');
    const trained = node(['node_modules/.bin/pipec', 'train', 'mine/swiglu.pipe', '--steps', '1', '--in-process']);
    expect(trained.stderr).toBe('');
    expect(trained.stdout).toMatch(/step 1\/1 {2}loss [\d.]+/);
  });

  it('type-checks from TypeScript with skipLibCheck off: no error in pipec\'s own declarations', () => {
    writeFileSync(join(project, 'use.ts'), [
      "import { compile, createMemoryHost, simulateCompilation, type Compilation, type Diagnostic } from 'pipec';",
      "import { renderTimelineSvg, type SimulationResult } from 'pipec/compiler';",
      "import { defineLayer, run, type RunOptions } from 'pipec/runtime';",
      "const compilation: Compilation = compile('main.pipe', createMemoryHost({ 'main.pipe': '' }));",
      'const diagnostics: readonly Diagnostic[] = compilation.diagnostics;',
      'const result: SimulationResult | undefined = simulateCompilation(compilation)?.result;',
      "const options: RunOptions = { backend: 'cpu', steps: 1 };",
      "const layer = defineLayer<{ readonly units: number }>({ name: 'Twice', parameters: () => [], forward: (tf, _params, x) => tf.mul(x, 2) });",
      'export const used = [diagnostics, result && renderTimelineSvg([{ label: "", result }]), options, layer, run];',
    ].join('\n'));
    // The compiler entry alone is host-free: it needs neither the DOM nor Node's types.
    writeFileSync(join(project, 'compiler.ts'), [
      "import { compile, createMemoryHost, simulateCompilation } from 'pipec/compiler';",
      "export const makespan = simulateCompilation(compile('main.pipe', createMemoryHost({ 'main.pipe': '' })))?.result.makespan;",
    ].join('\n'));
    const base = { target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...base, lib: ['ES2023', 'DOM'], types: ['node'] }, files: ['use.ts'] }));
    writeFileSync(join(project, 'tsconfig.compiler.json'), JSON.stringify({ compilerOptions: { ...base, lib: ['ES2023'], types: [] }, files: ['compiler.ts'] }));
    const full = node([tsc, '-p', 'tsconfig.json']);
    const errors = full.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
    // TensorFlow.js's own declarations (tfjs-core's `Long`, @webgpu/types against TypeScript 6's DOM) are not pipec's.
    const ours = errors.filter((line) => !/^node_modules\/(@tensorflow|@webgpu)\/|typescript\/lib\/lib\.dom\.d\.ts/.test(line));
    expect(ours).toEqual([]);
    figures.push(`tsc on the full entries: ${errors.length} errors, all in TensorFlow.js's declarations`);
    const compilerOnly = node([tsc, '-p', 'tsconfig.compiler.json']);
    expect(compilerOnly.stdout).toBe('');
    expect(compilerOnly.status).toBe(0);
  });

  it('bundles pipec/compiler for the browser (the README points browsers there; the root entry carries the Node runtime)', async () => {
    writeFileSync(join(project, 'browser.js'), "import { compile, createMemoryHost } from 'pipec/compiler';\nconsole.log(compile('m.pipe', createMemoryHost({ 'm.pipe': '' })).diagnostics);\n");
    const bundled = await build({ entryPoints: [join(project, 'browser.js')], bundle: true, platform: 'browser', format: 'esm', minify: true, write: false, absWorkingDir: project, logLevel: 'silent' });
    const size = bundled.outputFiles[0].contents.length;
    expect(size).toBeGreaterThan(100_000);
    figures.push(`pipec/compiler browser bundle ${(size / 1024).toFixed(0)} KiB minified`);
    await expect(build({ stdin: { contents: "import { compile } from 'pipec'; console.log(compile);", resolveDir: project }, bundle: true, platform: 'browser', write: false, logLevel: 'silent' }))
      .rejects.toThrow(/node:/);
  });

  const older = olderNode();
  if (older === undefined) console.log('skipping the older-Node checks: no node older than 22 on PATH');
  it.skipIf(older === undefined)('on an older Node, the command and the import say what to run, and the advice works', () => {
    const command = node(['node_modules/.bin/pipec', '--version'], older);
    expect(command.status).toBe(2);
    expect(command.stderr).toMatch(/^pipec needs Node >= 22\.18 \(this is \d+\.[\d.]+\)\..*`npx --yes -p node@22 pipec \.\.\.`/);
    const imported = node(['use.mjs'], older);
    expect(imported.status).not.toBe(0);
    expect(imported.stderr).toContain('pipec needs Node >= 22.18, and this is Node');
    expect(imported.stderr).not.toContain('groupBy');
    // The advice itself, on the same old Node's npx (npm's node package, from its cache after the first run).
    const npx = join(older!, '..', 'npx');
    const advised = spawnSync(npx, ['--yes', '-p', 'node@22', 'pipec', '--version'], { cwd: project, encoding: 'utf8' });
    expect(advised.stdout.trim()).toBe(manifest.version);
    const script = spawnSync(npx, ['--yes', '-p', 'node@22', 'node', 'use.mjs'], { cwd: project, encoding: 'utf8' });
    expect(JSON.parse(script.stdout).diagnostics).toBe(0);
  });
});

// The sources' own layer modules see the same package (the self-reference a
// copied sample relies on): nothing under samples/ reaches into the sources by path.
describe('samples', () => {
  it('import pipec by its package name', () => {
    const layers = readdirSync(join(root, 'samples/layers'));
    for (const file of layers) expect(readFileSync(join(root, 'samples/layers', file), 'utf8'), file).not.toMatch(/from '\.\.\//);
  });
});
