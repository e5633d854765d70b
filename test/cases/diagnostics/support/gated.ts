// Implementation used by PIPE2023-extern-parameter-type.pipe: `gate` is a
// string here, but the .pipe declaration says bool.
import { defineLayer } from '../../../../runtime/extern.ts';

interface GatedArgs {
  readonly hidden: number;
  readonly gate: string;
}

export default defineLayer<GatedArgs>({
  name: 'Gated',
  parameters: (args, inputShape) => [{ name: 'w', shape: [inputShape[inputShape.length - 1], args.hidden], init: 'glorot' }],
  forward: (tf, params, x) => tf.matMul(x, params.w),
});
