// Benchmark: parse + check a generated model of 2,000 layers (half from a
// repeat block, half declared one by one), four stages, 1F1B. Prints the
// median of several runs as JSON. Run: node bench/parseCheck.ts [runs]

import { pathToFileURL } from 'node:url';
import { compileFile, createMemoryHost, makeSource, parse } from '../compiler/index.ts';

export function generateLargeProgram(layers = 2000): string {
  const repeated = layers / 2;
  const explicit = layers - repeated - 1; // the head is the last layer
  const lines = ['model big {', '  input x: f32[batch, 64]', '  target y: i32[batch]', `  repeat i in 0..${repeated} {`,
    '    layer r[i] = Dense(units: 64, activation: relu)', '  }'];
  for (let i = 0; i < explicit; i++) lines.push(`  layer e${i} = Dense(units: 64${i % 2 === 0 ? ', activation: gelu' : ''})`);
  lines.push('  layer head = Dense(units: 10)', '  loss softmax_cross_entropy(head, y)', '}', '');
  lines.push('cluster local {', '  device gpu[0..4] memory 80GiB speed 300TFLOPS', '  link gpu[*] <-> gpu[*] bandwidth 100GB/s latency 5us', '}', '');
  const half = Math.floor(explicit / 2);
  const names = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `e${from + i}`).join(', ');
  lines.push('pipeline train {', '  model big', '  cluster local', '  batch 256 microbatches 16', '  stages {',
    `    s0 on gpu[0] = r[0..${repeated / 2}]`,
    `    s1 on gpu[1] = r[${repeated / 2}..${repeated}]`,
    `    s2 on gpu[2] = ${names(0, half)}`,
    `    s3 on gpu[3] = ${names(half, explicit)}, head`,
    '  }', '  schedule 1f1b', '  optimizer adam(lr: 1e-3)', '}', '');
  return lines.join('\n');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function runParseCheckBenchmark(runs = 5): Record<string, number> {
  const text = generateLargeProgram();
  const host = createMemoryHost({ 'big.pipe': text });
  const parseTimes: number[] = [];
  const checkTimes: number[] = [];
  let layers = 0;
  for (let run = 0; run <= runs; run++) {
    const parseStart = performance.now();
    const parsed = parse(makeSource('big.pipe', text));
    const parseEnd = performance.now();
    if (parsed.diagnostics.length > 0) throw new Error(`generated program has syntax errors: ${parsed.diagnostics[0].message}`);
    const checkStart = performance.now();
    const result = compileFile('big.pipe', host, { until: 'check' });
    const checkEnd = performance.now();
    if (result.program === undefined) throw new Error(`generated program does not check: ${result.diagnostics[0]?.message}`);
    layers = result.program.model.layers.length;
    if (run === 0) continue; // warm-up: JIT and the parser's first-use setup
    parseTimes.push(parseEnd - parseStart);
    checkTimes.push(checkEnd - checkStart);
  }
  return {
    layers,
    sourceBytes: text.length,
    runs,
    parseMedianMs: Number(median(parseTimes).toFixed(1)),
    parseAndCheckMedianMs: Number(median(checkTimes).toFixed(1)),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 5);
  process.stdout.write(`${JSON.stringify({ benchmark: 'parseCheck', ...runParseCheckBenchmark(runs) })}\n`);
}
