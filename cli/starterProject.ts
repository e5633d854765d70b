// The files `pipec init` writes: a program that checks clean and trains in
// seconds on the cpu backend (synthetic data, two worker threads),
// a README section on the commands to try next, and VS Code settings that
// associate *.pipe with pipec's language server. Kept as text here so the
// installed package (dist/) carries them without copying extra files.

export interface StarterFile {
  /** Relative to the project folder, with forward slashes. */
  readonly path: string;
  readonly text: string;
}

export const STARTER_PROGRAM = 'train.pipe';

const program = `// A two-stage pipeline to start from: a small MLP on synthetic data, split
// over two devices and run with the 1F1B schedule.
//   pipec check ${STARTER_PROGRAM}        types, shapes, placement, schedule, memory
//   pipec show ${STARTER_PROGRAM}         the schedule's timeline (-o timeline.svg|.png|.pdf)
//   pipec train ${STARTER_PROGRAM}        train it on TensorFlow.js (cpu backend)

model mlp {
  input x: f32[batch, 64]
  target y: i32[batch]
  layer hidden = Dense(units: 128, activation: relu)
  layer out = Dense(units: 10)
  loss softmax_cross_entropy(out, y)
}

// Worker threads on this machine; for a GPU cluster write e.g.
// device gpu[0..8] memory 80GiB speed 400TFLOPS
cluster local {
  device worker[0..2] memory 4GiB speed 2GFLOPS
  link worker[*] <-> worker[*] bandwidth 1GB/s latency 100us
}

pipeline train {
  model mlp
  cluster local
  batch 32 microbatches 4
  stages {
    s0 on worker[0] = hidden
    s1 on worker[1] = out
  }
  schedule 1f1b            // try zb_h1, or auto(memory: 1.0 * activations(1f1b))
  optimizer adam(lr: 1e-3)
  data synthetic(examples: 1024, seed: 1)
  steps 200
}
`;

const readme = `## Training pipeline (pipec)

\`${STARTER_PROGRAM}\` describes the model, the devices, how the layers are split into
pipeline stages, and the schedule. With pipec installed (\`npm install --save-dev pipec\`):

\`\`\`sh
npx pipec check ${STARTER_PROGRAM}                 # every check: shapes, placement, schedule, deadlock, memory
npx pipec check ${STARTER_PROGRAM} --watch         # the same, again on every save
npx pipec simulate ${STARTER_PROGRAM}              # makespan, bubble and peak memory per device
npx pipec show ${STARTER_PROGRAM} -o timeline.png  # the schedule's timeline (.svg, .png or .pdf)
npx pipec show ${STARTER_PROGRAM} --compare 1f1b,zb_h1 --unit
npx pipec train ${STARTER_PROGRAM}                 # train it (TensorFlow.js, cpu backend)
\`\`\`

Editor: \`.vscode/settings.json\` associates \`*.pipe\` files with pipec's language server
(\`pipec lsp\`), used by the pipec VS Code extension (\`pipec.pipec-pipe\`).
Shell completion: \`pipec completion bash|zsh|fish\`.
`;

const settings = `${JSON.stringify(
  {
    'files.associations': { '*.pipe': 'pipe' },
    // The extension starts `<pipec.path> lsp --stdio` as the language server
    // (editors/vscode/package.json): pipec on the PATH, or a clone's bin/pipec.js.
    'pipec.path': 'pipec',
    '[pipe]': { 'editor.defaultFormatter': 'pipec.pipec-pipe', 'editor.formatOnSave': true, 'editor.tabSize': 2 },
  },
  null,
  2,
)}\n`;

const extensions = `${JSON.stringify({ recommendations: ['pipec.pipec-pipe'] }, null, 2)}\n`;

export const STARTER_FILES: readonly StarterFile[] = [
  { path: STARTER_PROGRAM, text: program },
  { path: 'README.md', text: readme },
  { path: '.vscode/settings.json', text: settings },
  { path: '.vscode/extensions.json', text: extensions },
];
