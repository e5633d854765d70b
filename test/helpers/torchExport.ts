// `pipec export FILE --torch DIR` as the CLI runs it, with what it writes to
// standard error captured: the export refusal tests read the rendered diagnostic.

import { runTorchExport } from '../../cli/commands/export.ts';

export async function torchProgramExport(file: string, directory: string): Promise<{ code: number; output: string }> {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => { written.push(String(chunk)); return true; }) as typeof process.stderr.write;
  try {
    const code = await runTorchExport(file, directory, { comms: false, format: 'text', color: false, unit: true });
    return { code, output: written.join('') };
  } finally {
    process.stderr.write = write;
  }
}
