// Pictures as files people put in papers and slides: the timeline's SVG
// rasterised to PNG by resvg (a Rust renderer shipped as a binary inside its
// npm package) or drawn as vector PDF by pdfkit through svg-to-pdfkit. Both
// need a font: resvg finds the system's (Helvetica, Arial or their metric
// twin Liberation Sans, else DejaVu Sans); the PDF uses the PDF standard
// font Helvetica, which every PDF reader must provide, so nothing needs
// embedding and the file stays small. The SVG's text keeps to characters
// Helvetica's standard encoding has (no arrows).

import { Resvg } from '@resvg/resvg-js';
import PDFDocument from 'pdfkit';
import SVGtoPDF from 'svg-to-pdfkit';

export type FigureFormat = 'svg' | 'png' | 'pdf';

/** The picture format a file name asks for, or undefined when its extension names none. */
export function figureFormatOf(file: string): FigureFormat | 'text' | 'trace' | undefined {
  const extension = /\.([^./\\]+)$/.exec(file)?.[1]?.toLowerCase();
  if (extension === 'svg' || extension === 'png' || extension === 'pdf') return extension;
  if (extension === 'txt') return 'text';
  if (extension === 'json') return 'trace';
  return undefined;
}

/** The SVG's size in CSS pixels, from its root element's width and height. */
function svgSize(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg)?.[0] ?? '';
  const width = Number(/\bwidth="([\d.]+)"/.exec(root)?.[1]);
  const height = Number(/\bheight="([\d.]+)"/.exec(root)?.[1]);
  if (!(width > 0 && height > 0)) throw new Error('internal: the timeline SVG has no width and height');
  return { width, height };
}

/** A PNG of the SVG at its own size (one pixel per CSS pixel; `--scale 2` doubles both). */
export function svgToPng(svg: string): Uint8Array {
  const image = new Resvg(svg, {
    fitTo: { mode: 'original' },
    background: '#ffffff',
    font: { loadSystemFonts: true, sansSerifFamily: 'Liberation Sans', defaultFontFamily: 'Liberation Sans' },
    logLevel: 'off',
  }).render();
  return image.asPng();
}

/** A one-page vector PDF of the SVG, the page exactly the picture (CSS pixels at 96 per inch). */
export function svgToPdf(svg: string, title: string): Promise<Uint8Array> {
  const { width, height } = svgSize(svg);
  const points = (pixels: number) => (pixels * 72) / 96;
  const doc = new PDFDocument({
    size: [points(width), points(height)],
    margin: 0,
    // A fixed date keeps the file the same from run to run.
    info: { Title: title, Producer: 'pipec', Creator: 'pipec show', CreationDate: new Date(0) },
  });
  const chunks: Uint8Array[] = [];
  const done = new Promise<Uint8Array>((resolve, reject) => {
    doc.on('data', (chunk: Uint8Array) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  SVGtoPDF(doc, svg, 0, 0, { width: points(width), height: points(height), assumePt: false });
  doc.end();
  return done;
}
