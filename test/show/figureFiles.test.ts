// PNG and PDF figures: real files a paper can take, checked by their bytes
// (the PNG's signature and size, the PDF's page and text objects) rather
// than by the libraries' word. And the format `show` picks without being told.

import { spawnSync } from 'node:child_process';
import { readdirSync, type Dirent } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { chooseShowFormat, runShow } from '../../cli/commands/show.ts';
import { figureFormatOf, svgToPdf, svgToPng } from '../../cli/figureFiles.ts';

function pngSize(png: Uint8Array): { width: number; height: number } {
  const view = Buffer.from(png);
  expect([...view.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(view.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: view.readUInt32BE(16), height: view.readUInt32BE(20) };
}

/** Whether resvg can find any font: a .ttf, .otf or .ttc under the usual system font folders. */
function systemFontsPresent(): boolean {
  const folders = ['/usr/share/fonts', '/usr/local/share/fonts', path.join(homedir(), '.fonts'), path.join(homedir(), '.local/share/fonts'), '/System/Library/Fonts', '/Library/Fonts', 'C:\\Windows\\Fonts'];
  const hasFont = (folder: string, depth: number): boolean => {
    let entries: Dirent[];
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return false;
    }
    return entries.some((entry) => (entry.isDirectory() ? depth > 0 && hasFont(path.join(folder, entry.name), depth - 1) : /\.(ttf|otf|ttc)$/i.test(entry.name)));
  };
  return folders.some((folder) => hasFont(folder, 3));
}

/** An 8-bit RGBA PNG's pixels (resvg writes no other kind), unfiltered row by row. */
function decodePng(png: Uint8Array): { width: number; height: number; pixel(x: number, y: number): number[] } {
  const { width, height } = pngSize(png);
  const view = Buffer.from(png);
  expect([view[24], view[25]]).toEqual([8, 6]);
  const data: Buffer[] = [];
  for (let offset = 8; offset < view.length; ) {
    const length = view.readUInt32BE(offset);
    if (view.toString('latin1', offset + 4, offset + 8) === 'IDAT') data.push(view.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * 4;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const value = raw[y * (stride + 1) + 1 + i];
      const left = i >= 4 ? pixels[y * stride + i - 4] : 0;
      const up = y > 0 ? pixels[(y - 1) * stride + i] : 0;
      const upLeft = y > 0 && i >= 4 ? pixels[(y - 1) * stride + i - 4] : 0;
      const paeth = () => {
        const p = left + up - upLeft;
        const [a, b, c] = [Math.abs(p - left), Math.abs(p - up), Math.abs(p - upLeft)];
        return a <= b && a <= c ? left : b <= c ? up : upLeft;
      };
      const predictor = [0, left, up, (left + up) >> 1, paeth()][filter];
      pixels[y * stride + i] = (value + predictor) & 0xff;
    }
  }
  return { width, height, pixel: (x, y) => [...pixels.subarray(y * stride + x * 4, y * stride + x * 4 + 4)] };
}

/** The PDF's content streams, inflated where they are compressed. */
function contentStreams(pdf: Uint8Array): string[] {
  const text = Buffer.from(pdf).toString('latin1');
  const streams: string[] = [];
  for (const match of text.matchAll(/<<([^]*?)>>\s*stream\r?\n/g)) {
    const start = match.index! + match[0].length;
    const end = text.indexOf('endstream', start);
    const bytes = Buffer.from(pdf).subarray(start, end);
    streams.push(match[1].includes('/FlateDecode') ? inflateSync(bytes).toString('latin1') : bytes.toString('latin1'));
  }
  return streams;
}

const bare = { schedule: 'zb-v', devices: 4, microbatches: 16 } as const;

describe('show writes PNG and PDF', () => {
  it('a PNG of the SVG at its size, and twice as many pixels each way at --scale 2', async () => {
    const svg = (await runShow({ ...bare, format: 'svg' })).output;
    const [, width, height] = /<svg [^>]*width="([\d.]+)" height="([\d.]+)"/.exec(svg)!.map(Number);
    const once = await runShow({ ...bare, output: 'zbv.png', width: 1400 });
    const png = once.files.get('zbv.png') as Uint8Array;
    expect(pngSize(png)).toEqual({ width: 1400, height: Math.round(height) });
    const twice = await runShow({ ...bare, output: 'zbv.png', width: 1400, scale: 2 });
    expect(pngSize(twice.files.get('zbv.png') as Uint8Array)).toEqual({ width: 2800, height: Math.round(height) * 2 });
    expect(width).toBe(1290);
  });

  it('the PNG has the boxes and the text drawn, not a blank page', () => {
    const box = '<rect x="10" width="10" height="10" fill="#4C78A8"/>';
    const label = '<text x="2" y="9" font-size="10" fill="#000">7</text>';
    const svg = (body: string) => `<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10" font-family="Helvetica, Arial, sans-serif">${body}</svg>`;
    const image = decodePng(svgToPng(svg(box + label)));
    expect(image.width).toBe(20);
    // The box's colour at its middle, white outside it.
    expect(image.pixel(15, 5)).toEqual([0x4c, 0x78, 0xa8, 255]);
    // The label is drawn with a font found on this machine: some dark pixels left of the box.
    if (!systemFontsPresent()) {
      console.warn('skipped the PNG text check: this machine has no fonts in its system font folders (install e.g. fonts-liberation)');
      return;
    }
    const dark = Array.from({ length: 10 * 10 }, (_, i) => image.pixel(i % 10, Math.floor(i / 10))).filter(([r]) => r < 128);
    expect(dark.length).toBeGreaterThan(3);
  });

  it('a one-page vector PDF with its text as text', async () => {
    const result = await runShow({ ...bare, output: 'zbv.pdf', stageNumbers: true });
    expect(result.exitCode).toBe(0);
    const pdf = result.files.get('zbv.pdf') as Uint8Array;
    const raw = Buffer.from(pdf).toString('latin1');
    expect(raw.startsWith('%PDF-')).toBe(true);
    expect(raw.trimEnd().endsWith('%%EOF')).toBe(true);
    expect(raw.match(/\/Type \/Page\b/g)).toHaveLength(1);
    expect(raw).toContain('/BaseFont /Helvetica');
    const content = contentStreams(pdf).join('\n');
    // Text objects (BT … ET) in Helvetica with shown strings, and vector boxes (closed, filled paths).
    expect((content.match(/\bBT\b/g) ?? []).length).toBeGreaterThan(100);
    expect(content).toMatch(/\/F\d+ [\d.]+ Tf/);
    expect(content).toMatch(/> Tj\b/);
    expect((content.match(/ l\nh\n/g) ?? []).length).toBeGreaterThan(100);
  });

  it('the same picture gives the same bytes, PNG and PDF, so figures can be committed', async () => {
    const small = { schedule: '1f1b', devices: 2, microbatches: 2 } as const;
    for (const output of ['x.png', 'x.pdf']) {
      const [first, second] = await Promise.all([runShow({ ...small, output }), runShow({ ...small, output })]);
      expect(Buffer.from(first.files.get(output) as Uint8Array).equals(Buffer.from(second.files.get(output) as Uint8Array))).toBe(true);
    }
  });

  it('the PDF page is the picture, in points', async () => {
    const svg = (await runShow({ ...bare, format: 'svg', width: 960 })).output;
    const height = Number(/<svg [^>]*height="([\d.]+)"/.exec(svg)![1]);
    const pdf = Buffer.from(await svgToPdf(svg, 'zb_v')).toString('latin1');
    const box = /\/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]/.exec(pdf)!;
    expect(Number(box[1])).toBeCloseTo(720, 3);
    expect(Number(box[2])).toBeCloseTo((height * 72) / 96, 3);
  });
});

describe('the format show picks', () => {
  it('from --format, else from -o, else text on a terminal and SVG down a pipe', () => {
    expect(chooseShowFormat({ format: 'pdf', output: 'x.svg' })).toEqual({ format: 'pdf' });
    expect(chooseShowFormat({ output: 'figs/x.PNG' })).toEqual({ format: 'png' });
    expect(chooseShowFormat({ output: 'x.txt' })).toEqual({ format: 'text' });
    expect(chooseShowFormat({ output: 'x.json' })).toEqual({ format: 'trace' });
    expect(chooseShowFormat({ terminal: true })).toEqual({ format: 'text' });
    expect(chooseShowFormat({ terminal: false })).toEqual({ format: 'svg' });
    expect(chooseShowFormat({ output: 'x.svgz' })).toEqual({ error: expect.stringContaining("cannot tell the picture format from 'x.svgz'") });
    expect(figureFormatOf('timeline')).toBeUndefined();
  });

  it('prints the text timeline on a terminal, the SVG otherwise, and refuses binary on a terminal', async () => {
    expect((await runShow({ ...bare, terminal: true })).output).toMatch(/^zb_v · 4 devices[^\n]*\n units  0 /);
    expect((await runShow({ ...bare, terminal: false })).output).toMatch(/^<svg /);
    const binary = await runShow({ ...bare, terminal: true, format: 'png' });
    expect(binary.exitCode).toBe(2);
    expect(binary.errorOutput).toBe('pipec: PNG is binary; write it to a file with -o timeline.png\n');
  });

  it('down a pipe the command prints SVG, and its help says so', () => {
    const piped = spawnSync(process.execPath, ['bin/pipec.js', 'show', '--schedule', '1f1b', '-p', '2', '-m', '2'], { encoding: 'utf8' });
    expect(piped.status).toBe(0);
    expect(piped.stdout.startsWith('<svg ')).toBe(true);
    const help = spawnSync(process.execPath, ['bin/pipec.js', 'show', '--help'], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('a terminal gets the text timeline and a pipe or redirect gets the SVG');
    for (const flag of ['--width <px>', '--scale <K>', '--stage-numbers', '--watch', 'choices: "svg", "png", "pdf", "text", "trace"']) expect(help).toContain(flag);
  });

  it('fits the text timeline to the terminal', async () => {
    const result = await runShow({ ...bare, terminal: true, terminalColumns: 90 });
    expect(Math.max(...result.output.split('\n').map((line) => line.length))).toBeLessThanOrEqual(90);
  });
});
