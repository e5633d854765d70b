// Runs before every test file: a message template whose placeholder gets no
// value throws here, instead of showing '{name}' to a user later.

import { setStrictMessageArguments } from '../grammar/diagnosticMessages.ts';

setStrictMessageArguments(true);
