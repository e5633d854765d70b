// The language server, driven as an editor drives it: the real `pipec lsp`
// process over JSON-RPC. It opens a program with three mistakes, receives
// the squiggles, applies the quick fixes, and then asks for every feature:
// hover, definition, references, completion, outline, formatting, rename,
// semantic tokens, and diagnostics of a program whose import is an unsaved
// buffer.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, printDocument } from '../../grammar/index.ts';
import { compileFile, createMemoryHost } from '../../compiler/index.ts';
import { applyEdits, FIXTURES, fileUri, REPOSITORY, positionOf, startEditorSession, textAt, type EditorDiagnostic, type EditorSession, type Range } from './client.ts';

const mainFile = `${FIXTURES}with-errors.pipe`;
const clusterFile = `${FIXTURES}cluster.pipe`;
const mainUri = fileUri(mainFile);
const clusterUri = fileUri(clusterFile);
const original = readFileSync(mainFile, 'utf8');

interface Location { readonly uri: string; readonly range: Range }
interface CodeAction { readonly title: string; readonly kind: string; readonly diagnostics: EditorDiagnostic[]; readonly edit: { changes: Record<string, { range: Range; newText: string }[]> } }
interface CompletionItem { readonly label: string; readonly kind?: number; readonly insertText?: string }
interface Hover { readonly contents: { kind: string; value: string } }
interface DocumentSymbol { readonly name: string; readonly detail?: string; readonly children?: DocumentSymbol[] }

let session: EditorSession;
let version = 1;
/** The buffer as the editor holds it (after the quick fixes). */
let text = original;
let firstDiagnostics: EditorDiagnostic[];

const textOfUri = (uri: string) => readFileSync(fileURLToPath(uri), 'utf8');

async function change(edits: readonly { range: Range; newText: string }[]): Promise<void> {
  // Incremental changes, applied in order as an editor sends them (last edit first keeps earlier ranges valid).
  const ordered = [...edits].sort((a, b) => b.range.start.line - a.range.start.line || b.range.start.character - a.range.start.character);
  text = applyEdits(text, ordered);
  await session.notify('textDocument/didChange', { textDocument: { uri: mainUri, version: ++version }, contentChanges: ordered.map((edit) => ({ range: edit.range, text: edit.newText })) });
}

const hover = (needle: string, into = 0, occurrence = 0) =>
  session.request<Hover | null>('textDocument/hover', { textDocument: { uri: mainUri }, position: positionOf(text, needle, into, occurrence) });
const complete = async (needle: string, into: number, occurrence = 0) =>
  (await session.request<CompletionItem[]>('textDocument/completion', { textDocument: { uri: mainUri }, position: positionOf(text, needle, into, occurrence) })).map((item) => item.label);

beforeAll(async () => {
  session = await startEditorSession();
  const published = session.diagnostics(mainUri, (diagnostics) => diagnostics.length > 0);
  await session.notify('textDocument/didOpen', { textDocument: { uri: mainUri, languageId: 'pipe', version, text } });
  firstDiagnostics = await published;
}, 30_000);

afterAll(async () => {
  if (session !== undefined && session.exited() === undefined) session.child.kill();
});

describe('pipec lsp over JSON-RPC', () => {
  it('publishes the diagnostics of an unsaved buffer, with hints and related locations', () => {
    const byCode = Object.fromEntries(firstDiagnostics.map((d) => [d.code, d]));
    expect(Object.keys(byCode).sort()).toEqual(['PIPE2003', 'PIPE3006', 'PIPE4011']);
    expect(textAt(text, byCode.PIPE2003.range)).toBe('Dnse');
    expect(byCode.PIPE2003.message).toContain("did you mean 'Dense'?");
    expect(textAt(text, byCode.PIPE3006.range)).toBe('hiden');
    expect(textAt(text, byCode.PIPE4011.range)).toBe('depth');
    // The schedule's declaration in the standard library, served as a file the editor can open.
    const [related] = byCode.PIPE4011.relatedInformation!;
    expect(related.message).toBe('declared here');
    expect(related.location.uri).toMatch(/^file:.*schedules\.pipe$/);
    expect(textAt(textOfUri(related.location.uri), related.location.range)).toBe('1f1b');
  });

  it('offers a quick fix for every did-you-mean, and the fixes make the program check', async () => {
    const fixes: { range: Range; newText: string }[] = [];
    for (const diagnostic of firstDiagnostics.filter((d) => d.code !== 'PIPE4011')) {
      const actions = await session.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri: mainUri }, range: diagnostic.range, context: { diagnostics: [diagnostic] } });
      expect(actions).toHaveLength(1);
      expect(actions[0].kind).toBe('quickfix');
      expect(actions[0].diagnostics[0].code).toBe(diagnostic.code);
      fixes.push(...actions[0].edit.changes[mainUri]);
    }
    expect(fixes.map((fix) => fix.newText).sort()).toEqual(['Dense', 'hidden']);
    // No did-you-mean, no quick fix: the unknown schedule argument is removed by hand.
    const unknownArgument = firstDiagnostics.find((d) => d.code === 'PIPE4011')!;
    const noFix = await session.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri: mainUri }, range: unknownArgument.range, context: { diagnostics: [unknownArgument] } });
    expect(noFix).toEqual([]);
    const call = positionOf(text, '(depth: 2)');
    fixes.push({ range: { start: call, end: { line: call.line, character: call.character + '(depth: 2)'.length } }, newText: '' });
    const clean = session.diagnostics(mainUri, (diagnostics) => diagnostics.length === 0);
    await change(fixes);
    expect(await clean).toEqual([]);
    expect(text).toContain('layer fc1 = Dense(units: 256');
    expect(text).toContain('s1 on worker[1] = hidden[0]');
  });

  it('hovers: a layer\'s shapes, parameters and FLOPs; a stage\'s device, layers and memory; a schedule\'s bubble and peak memory', async () => {
    const layer = (await hover('= fc1', 2))!.contents.value;
    expect(layer).toContain('**layer** `fc1`');
    expect(layer).toContain('f32[batch, 784]');
    expect(layer).toContain('f32[batch, 256]');
    expect(layer).toContain('parameters 200,960'); // 784 × 256 + 256
    // The checker's own figures for the same text, as the CLI computes them.
    const checked = compileFile('main.pipe', createMemoryHost({ 'main.pipe': text, 'cluster.pipe': readFileSync(clusterFile, 'utf8') }), { until: 'check' });
    const fc1 = checked.program?.model.layers.find((l) => l.name === 'fc1');
    expect(fc1).toBeDefined();
    expect(layer).toContain(`forward ${fc1!.forwardFlops.toLocaleString('en-US')} FLOPs`);
    const repeated = (await hover('hidden[i]', 1))!.contents.value;
    expect(repeated).toContain('`hidden[0]`');
    expect(repeated).toContain('`hidden[1]`');

    const stage = (await hover('s1 on', 0))!.contents.value;
    expect(stage).toContain('**stage** `s1`');
    expect(stage).toContain('`worker[1]`');
    expect(stage).toContain('`hidden[0]`');
    expect(stage).toMatch(/weights \d[\d.]* (KiB|MiB)/);
    expect(stage).toMatch(/peak memory of its device under `1f1b`: \d/);

    const schedule = (await hover('schedule 1f1b', 'schedule '.length + 1))!.contents.value;
    expect(schedule).toContain('**schedule** `1f1b`');
    expect(schedule).toMatch(/bubble \*\*\d+(\.\d)?%\*\*/);
    expect(schedule).toMatch(/peak memory \*\*\d/);

    const kind = (await hover('Dense', 1))!.contents.value;
    expect(kind).toContain('**layer kind** `Dense`');
    expect(kind).toContain('`units`');
    expect(await hover('//', 3)).toBeNull();
  });

  it('mid-edit, hovers what a layer was the last time the program checked', async () => {
    const before = text;
    const call = positionOf(text, 'Dense(units: 10)');
    await change([{ range: { start: call, end: { line: call.line, character: call.character + 5 } }, newText: 'Dens' }]);
    const stale = (await hover('= fc1', 2))!.contents.value;
    expect(stale).toContain('f32[batch, 784]');
    expect(stale).toContain('As of the last version that checked');
    const restored = session.diagnostics(mainUri, (diagnostics) => diagnostics.length === 0);
    await change([{ range: { start: call, end: { line: call.line, character: call.character + 4 } }, newText: 'Dense' }]);
    await restored;
    expect(text).toBe(before);
    expect((await hover('= fc1', 2))!.contents.value).not.toContain('As of the last version');
  });

  it('hovers a schedule for the pipeline it is used in, `auto` included', async () => {
    const file = `${REPOSITORY}samples/v_shape.pipe`;
    const uri = fileUri(file);
    const sample = readFileSync(file, 'utf8');
    await session.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'pipe', version: 1, text: sample } });
    const at = (needle: string, into: number) => session.request<Hover | null>('textDocument/hover', { textDocument: { uri }, position: positionOf(sample, needle, into) });
    const searched = (await at('schedule auto(', 'schedule '.length + 1))!.contents.value;
    expect(searched).toContain('**schedule** `auto`');
    expect(searched).toContain('pipeline train_v_auto');
    expect(searched).toMatch(/bubble \*\*\d/);
    const zbv = (await at('schedule zb_v', 'schedule '.length + 1))!.contents.value;
    expect(zbv).toContain('pipeline train_v · schedule zb_v');
    await session.notify('textDocument/didClose', { textDocument: { uri } });
  });

  it('goes to definitions: layers, devices and clusters in the imported file, schedules in the standard library, imports', async () => {
    const at = (needle: string, into = 0, occurrence = 0) =>
      session.request<Location | null>('textDocument/definition', { textDocument: { uri: mainUri }, position: positionOf(text, needle, into, occurrence) });
    const layer = (await at('= hidden[1]', 3))!;
    expect(layer.uri).toBe(mainUri);
    expect(layer.range.start).toEqual(positionOf(text, 'hidden[i]'));
    const device = (await at('on worker[2]', 4))!;
    expect(device.uri).toBe(clusterUri);
    expect(textAt(readFileSync(clusterFile, 'utf8'), device.range)).toBe('worker');
    const cluster = (await at('cluster local', 9))!;
    expect(cluster.uri).toBe(clusterUri);
    const schedule = (await at('schedule 1f1b', 10))!;
    expect(schedule.uri).toMatch(/schedules\.pipe$/);
    expect(textAt(textOfUri(schedule.uri), schedule.range)).toBe('1f1b');
    const imported = (await at('"./cluster.pipe"', 3))!;
    expect(imported.uri).toBe(clusterUri);
    const target = (await at('out, y', 5))!;
    expect(target.range.start).toEqual(positionOf(text, 'y: i32'));
  });

  it('finds references across the program and its import', async () => {
    const references = await session.request<Location[]>('textDocument/references', {
      textDocument: { uri: mainUri }, position: positionOf(text, 'worker[0]', 1), context: { includeDeclaration: true },
    });
    // Declared once and used twice (a link's two ends) in cluster.pipe, used by four stages here.
    expect(references.filter((r) => r.uri === clusterUri)).toHaveLength(3);
    expect(references.filter((r) => r.uri === mainUri)).toHaveLength(4);
    const uses = await session.request<Location[]>('textDocument/references', {
      textDocument: { uri: mainUri }, position: positionOf(text, 'layer out', 7), context: { includeDeclaration: false },
    });
    expect(uses.map((r) => textAt(text, r.range))).toEqual(['out', 'out']); // the loss and stage s3
  });

  it('completes layer kinds and their arguments, schedules, devices, layers and settings', async () => {
    expect(await complete('= Dense(units: 256, activation: relu)', 2)).toEqual(expect.arrayContaining(['Dense', 'Conv2D', 'LayerNorm', 'TransformerBlock', 'Add', 'Concat']));
    const argumentsOf = await complete('Dense(units: 256, activation: relu)', 'Dense('.length);
    expect(argumentsOf).toEqual(expect.arrayContaining(['units', 'activation']));
    expect(await complete('activation: relu', 'activation: '.length)).toEqual(expect.arrayContaining(['relu', 'gelu']));
    const schedules = await complete('schedule 1f1b', 'schedule '.length);
    expect(schedules).toEqual(expect.arrayContaining(['1f1b', 'gpipe', 'interleaved_1f1b', 'zb_v', 'auto']));
    expect(await complete('s0 on worker', 's0 on '.length)).toEqual(['worker[0]', 'worker[1]', 'worker[2]', 'worker[3]']);
    expect(await complete('= fc1', 2)).toEqual(['fc1', 'hidden[0]', 'hidden[1]', 'out']);
    expect(await complete('  batch 64', 2)).toEqual(expect.arrayContaining(['batch', 'microbatches', 'optimizer', 'data', 'stages', 'schedule']));
    expect(await complete('  layer out', 2)).toEqual(expect.arrayContaining(['layer', 'repeat', 'residual', 'loss']));
    expect(await complete('optimizer adam', 'optimizer '.length)).toEqual(['sgd', 'momentum', 'adam']);
    expect(await complete('recompute s0', 'recompute '.length)).toEqual(['s0', 's1', 's2', 's3']);
    expect(await complete('import "./', 'import "./'.length)).toEqual(expect.arrayContaining(['std:schedules', './cluster.pipe']));
    expect(await complete('import "./', 'import "./'.length)).not.toContain('./with-errors.pipe');
    // What is typed of a name with brackets is replaced, not repeated.
    const [device] = await session.request<{ label: string; textEdit: { range: Range; newText: string } }[]>('textDocument/completion', {
      textDocument: { uri: mainUri }, position: positionOf(text, 's2 on worker[', 's2 on worker['.length),
    });
    expect(textAt(text, device.textEdit.range)).toBe('worker[');
    expect(device.textEdit.newText).toBe('worker[0]');
  });

  it('lists the document\'s symbols as a tree', async () => {
    const symbols = await session.request<DocumentSymbol[]>('textDocument/documentSymbol', { textDocument: { uri: mainUri } });
    expect(symbols.map((s) => `${s.detail} ${s.name}`)).toEqual(['model mlp', 'pipeline train_mlp']);
    expect(symbols[0].children!.map((s) => s.name)).toEqual(['x', 'y', 'fc1', 'hidden', 'out']);
    expect(symbols[1].children!.map((s) => s.name)).toEqual(['s0', 's1', 's2', 's3']);
  });

  it('folds blocks and comment runs', async () => {
    const ranges = await session.request<{ startLine: number; endLine: number; kind?: string }[]>('textDocument/foldingRange', { textDocument: { uri: mainUri } });
    const lines = text.split('\n');
    const folded = ranges.filter((r) => r.kind === undefined).map((r) => lines[r.startLine].trim());
    expect(folded).toEqual(expect.arrayContaining(['model mlp {', 'repeat i in 0..2 {', 'pipeline train_mlp {', 'stages {']));
    expect(ranges).toContainEqual({ startLine: 0, endLine: 1, kind: 'comment' });
  });

  it('formats through the canonical printer, and leaves a buffer with syntax errors alone', async () => {
    const uri = 'untitled:format-me.pipe';
    const messy = 'model m{input x:f32[batch,4]\n   target y:i32[batch]\nlayer out=Dense(units:2)\n      loss softmax_cross_entropy(out,y)}\n';
    await session.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'pipe', version: 1, text: messy } });
    const edits = await session.request<{ range: Range; newText: string }[]>('textDocument/formatting', { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } });
    const expected = printDocument(parse({ name: uri, text: messy }).document, { text: messy });
    expect(expected).not.toBe(messy);
    expect(applyEdits(messy, edits)).toBe(expected);
    await session.notify('textDocument/didClose', { textDocument: { uri } });
    const broken = 'model m { layer = }\n';
    await session.notify('textDocument/didOpen', { textDocument: { uri: 'untitled:broken.pipe', languageId: 'pipe', version: 1, text: broken } });
    expect(await session.request('textDocument/formatting', { textDocument: { uri: 'untitled:broken.pipe' }, options: { tabSize: 2, insertSpaces: true } })).toBeNull();
    await session.notify('textDocument/didClose', { textDocument: { uri: 'untitled:broken.pipe' } });
  });

  it('renames every reference, and refuses invalid names, clashes and the standard library', async () => {
    const at = positionOf(text, 's0 on', 0);
    const prepared = await session.request<{ range: Range; placeholder: string }>('textDocument/prepareRename', { textDocument: { uri: mainUri }, position: at });
    expect(prepared.placeholder).toBe('s0');
    const edit = await session.request<{ changes: Record<string, { range: Range; newText: string }[]> }>('textDocument/rename', { textDocument: { uri: mainUri }, position: at, newName: 'first' });
    expect(Object.keys(edit.changes)).toEqual([mainUri]);
    const renamed = applyEdits(text, edit.changes[mainUri]);
    expect(renamed).toContain('first on worker[0] = fc1');
    expect(renamed).toContain('recompute first');
    expect(renamed).not.toMatch(/\bs0\b/);
    // A cluster's device, declared in the imported file: both files change.
    const device = await session.request<{ changes: Record<string, unknown[]> }>('textDocument/rename', { textDocument: { uri: mainUri }, position: positionOf(text, 'worker[3]', 2), newName: 'gpu' });
    expect(Object.keys(device.changes).sort()).toEqual([clusterUri, mainUri].sort());
    await expect(session.request('textDocument/rename', { textDocument: { uri: mainUri }, position: at, newName: 'not a name' })).rejects.toThrow(/not a name/);
    await expect(session.request('textDocument/rename', { textDocument: { uri: mainUri }, position: at, newName: 's1' })).rejects.toThrow(/already exists/);
    await expect(session.request('textDocument/rename', { textDocument: { uri: mainUri }, position: positionOf(text, 'schedule 1f1b', 10), newName: 'mine' })).rejects.toThrow(/standard library/);
  });

  it('colours names by what they name (semantic tokens)', async () => {
    const { data } = await session.request<{ data: number[] }>('textDocument/semanticTokens/full', { textDocument: { uri: mainUri } });
    expect(data.length % 5).toBe(0);
    const lines = text.split('\n');
    let line = 0;
    let character = 0;
    const tokens: { text: string; type: number }[] = [];
    for (let i = 0; i < data.length; i += 5) {
      line += data[i];
      character = data[i] === 0 ? character + data[i + 1] : data[i + 1];
      tokens.push({ text: lines[line].slice(character, character + data[i + 2]), type: data[i + 3] });
    }
    const typeOf = (word: string) => tokens.find((token) => token.text === word)?.type;
    // The legend's order (lsp/semanticTokens.ts): namespace 0, class 1, function 2, variable 3, ..., enumMember 6, keyword 10, comment 13.
    expect(typeOf('mlp')).toBe(0);
    expect(typeOf('Dense')).toBe(1);
    expect(typeOf('1f1b')).toBe(2);
    expect(typeOf('fc1')).toBe(3);
    expect(typeOf('worker')).toBe(6);
    expect(typeOf('model')).toBe(10);
    expect(tokens[0]).toEqual({ text: lines[0], type: 13 });
  });

  it('resolves imports against open buffers first, then the disk', async () => {
    const unsaved = readFileSync(clusterFile, 'utf8').replace('cluster local', 'cluster lab');
    const broken = session.diagnostics(mainUri, (diagnostics) => diagnostics.some((d) => d.code === 'PIPE2025'));
    await session.notify('textDocument/didOpen', { textDocument: { uri: clusterUri, languageId: 'pipe', version: 1, text: unsaved } });
    const [unknownCluster] = (await broken).filter((d) => d.code === 'PIPE2025');
    expect(textAt(text, unknownCluster.range)).toBe('local');
    // An error inside the imported buffer shows at the import, pointing into that file.
    const atImport = session.diagnostics(mainUri, (diagnostics) => diagnostics.some((d) => textAt(text, d.range) === '"./cluster.pipe"'));
    await session.notify('textDocument/didChange', { textDocument: { uri: clusterUri, version: 2 }, contentChanges: [{ text: readFileSync(clusterFile, 'utf8').replace('100us', '100xs') }] });
    const [imported] = (await atImport).filter((d) => textAt(text, d.range) === '"./cluster.pipe"');
    expect(imported.message).toMatch(/^\.\/cluster\.pipe:4:\d+: /);
    expect(imported.relatedInformation![0].location.uri).toBe(clusterUri);
    const clean = session.diagnostics(mainUri, (diagnostics) => diagnostics.length === 0);
    await session.notify('textDocument/didClose', { textDocument: { uri: clusterUri } });
    expect(await clean).toEqual([]);
  });

  it('shuts down cleanly on shutdown and exit', async () => {
    expect(session.exited()).toBeUndefined();
    expect(await session.close()).toBe(0);
  });

  it('ends with 1 when the editor goes away without shutdown', async () => {
    const orphan = await startEditorSession();
    const ended = new Promise<number | null>((resolve) => orphan.child.on('exit', (code) => resolve(code)));
    orphan.child.stdin!.end();
    expect(await ended).toBe(1);
    orphan.connection.dispose();
  });
});
