// A torrent of edits: 1,000 seeded random edits to a sample (insertions of
// the language's own fragments, deletions, replacements), each sent as an
// incremental didChange and followed by a request (hover, completion,
// definition, semantic tokens, outline, code actions, formatting) that must
// be answered within the bound. The server process must never exit, and
// its view of the buffer must match the editor's at the end.

import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { REPOSITORY, startEditorSession, textAt, type EditorSession, type Position, type Range } from './client.ts';
// A seeded generator, so a failure replays exactly.
import { makeRandom } from '../../runtime/random.ts';

const EDITS = 1000;
const BOUND_MS = 2000;
const FRAGMENTS = [
  ' ', '\n', '{', '}', '(', ')', '[', ']', ',', ':', '=', '..', '"', '//', '/*', '*/', '0', '7', '1e-3', '16GiB',
  'layer', 'model', 'stages', 'schedule', 'on', 'Dense', 'units: 8', 'hidden[0]', 'worker[9]', 's0', '1f1b', 'zb_v',
  'repeat i in 0..3 {', 'residual r {', 'auto(memory: 2 * activations(1f1b))', 'é', '\t', 'recompute s9',
];
const REQUESTS = ['hover', 'completion', 'definition', 'semanticTokens/full', 'documentSymbol', 'codeAction', 'formatting'] as const;


function positionAt(text: string, offset: number): Position {
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  return { line, character: offset - (before.lastIndexOf('\n') + 1) };
}

let session: EditorSession | undefined;
afterAll(() => {
  if (session !== undefined && session.exited() === undefined) session.child.kill();
});

describe('pipec lsp under a torrent of edits', () => {
  it(`answers every request within ${BOUND_MS} ms through ${EDITS} random edits and never exits`, async () => {
    session = await startEditorSession();
    const uri = 'untitled:torrent.pipe';
    const random = makeRandom(20261202);
    let text = readFileSync(`${REPOSITORY}samples/mlp.pipe`, 'utf8');
    await session.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'pipe', version: 0, text } });
    let slowest = 0;
    const totalMs: Record<string, number> = {};
    for (let version = 1; version <= EDITS; version++) {
      const start = Math.floor(random() * (text.length + 1));
      const choice = random();
      // Deletions are kept shorter than insertions on average, so the text neither vanishes nor explodes.
      const end = choice < 0.45 ? start : Math.min(text.length, start + 1 + Math.floor(random() * 12));
      const inserted = choice < 0.75 ? FRAGMENTS[Math.floor(random() * FRAGMENTS.length)] : '';
      const range = { start: positionAt(text, start), end: positionAt(text, end) };
      text = text.slice(0, start) + inserted + text.slice(end);
      await session.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ range, text: inserted }] });

      const kind = REQUESTS[version % REQUESTS.length];
      const at = positionAt(text, Math.floor(random() * (text.length + 1)));
      const params = kind === 'codeAction'
        ? { textDocument: { uri }, range: { start: at, end: at }, context: { diagnostics: [] } }
        : kind === 'formatting' ? { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } }
          : { textDocument: { uri }, position: at };
      const began = performance.now();
      await session.request(`textDocument/${kind}`, params);
      const took = performance.now() - began;
      slowest = Math.max(slowest, took);
      totalMs[kind] = (totalMs[kind] ?? 0) + took;
      expect(took, `${kind} after edit ${version}`).toBeLessThan(BOUND_MS);
      expect(session.exited(), `the server exited after edit ${version}: ${session.stderr()}`).toBeUndefined();
    }
    // The server's buffer is the editor's: every outline entry's name is written where the server says it is.
    const symbols = await session.request<{ name: string; selectionRange: Range }[]>('textDocument/documentSymbol', { textDocument: { uri } });
    for (const symbol of symbols) expect(textAt(text, symbol.selectionRange)).toBe(symbol.name);
    console.info(`torrent: ${EDITS} edits, slowest answer ${slowest.toFixed(0)} ms; total ms by request: ${Object.entries(totalMs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
    expect(session.stderr()).toBe('');
    expect(await session.close()).toBe(0);
  }, 120_000);
});
