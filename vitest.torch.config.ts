import { defineConfig } from 'vitest/config';

// `npm run test:torch`: pipec's exported CSVs on PyTorch's own pipeline
// runtime (test/torch-runtime/). Kept out of `npm test` (its files end in
// .torch.ts): it needs the PyTorch venv of scripts/torch-venv.sh, which the
// global setup makes or reuses, and it skips, saying why, when it cannot.
export default defineConfig({
  test: {
    include: ['test/torch-runtime/**/*.torch.ts'],
    globalSetup: ['test/torch-runtime/setup.ts'],
    // One PyTorch process group at a time: the suite runs its checks in a
    // single checker process, and the file itself runs alone.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 600_000,
  },
});
