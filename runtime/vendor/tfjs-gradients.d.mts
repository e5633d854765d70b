// Side-effect module: registers TensorFlow.js core's gradients (see build.ts).
export {};
