// SwiGLU feed-forward (Shazeer 2020): (silu(x·W1) ⊙ (x·W2))·W3, used by
// samples/swiglu.pipe as an extern layer. The compiler reads this file's
// `SwiGLUArgs` to check that the .pipe declaration's parameters agree.

import { defineLayer } from '../../../../runtime/extern.ts';

interface SwiGLUArgs {
  readonly hidden: number;
}

export default defineLayer<SwiGLUArgs>({
  name: 'SwiGLU',
  parameters(args, inputShape) {
    const model = inputShape[inputShape.length - 1];
    return [
      { name: 'gate', shape: [model, args.hidden], init: 'glorot' },
      { name: 'up', shape: [model, args.hidden], init: 'glorot' },
      { name: 'down', shape: [args.hidden, model], init: 'glorot' },
    ];
  },
  forward(tf, params, x, _args, _training) {
    const gate = tf.matMul(x, params.gate);
    const activated = tf.mul(gate, tf.sigmoid(gate));
    return tf.matMul(tf.mul(activated, tf.matMul(x, params.up)), params.down);
  },
});

// 300 nested parentheses: more than TypeScript's parser is asked to read.
export const deep = ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))));
