// The slice of svg-to-pdfkit's API that `pipec show -o x.pdf` uses (the package ships no types).
declare module 'svg-to-pdfkit' {
  export interface SvgToPdfOptions {
    width?: number;
    height?: number;
    /** Treat SVG user units as points rather than CSS pixels (72/96). */
    assumePt?: boolean;
    preserveAspectRatio?: string;
    warningCallback?: (message: string) => void;
    fontCallback?: (family: string, bold: boolean, italic: boolean, fontOptions: { fauxBold?: boolean; fauxItalic?: boolean }) => string;
  }
  export default function SVGtoPDF(doc: PDFKit.PDFDocument, svg: string, x: number, y: number, options?: SvgToPdfOptions): void;
}
