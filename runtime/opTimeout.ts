// In-process mode runs every device on the main thread, so a layer that
// never returns (an extern layer stuck in a loop) would hang the run with
// no timer able to fire. With an op timeout each layer call runs as a
// vm script with a timeout: V8 then interrupts even a synchronous infinite
// loop from a watchdog thread and the call throws, which the interpreter
// reports as PIPE6251 at the instruction. The awaits of an instruction
// (reading a GPU result that never settles) are raced against a timer.
// What this cannot do: give the interrupted computation's memory back
// reliably (TensorFlow.js scopes it opened stay open), so the run stops
// rather than retrying. Worker mode needs none of this: its watchdog
// terminates a silent worker thread (--timeout).

import vm from 'node:vm';

/** Thrown when a call or an await ran past the op timeout. */
export class OperationTimeout extends Error {
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`did not finish within ${timeoutMs / 1000} s`);
    this.timeoutMs = timeoutMs;
    this.name = 'OperationTimeout';
  }
}

const context = vm.createContext({ work: undefined as (() => unknown) | undefined });
const callWork = new vm.Script('work()');

/** `work()` run synchronously, interrupted after `timeoutMs` (no limit when undefined). */
export function callWithin<T>(timeoutMs: number | undefined, work: () => T): T {
  if (timeoutMs === undefined) return work();
  context.work = work;
  try {
    return callWork.runInContext(context, { timeout: timeoutMs }) as T;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw new OperationTimeout(timeoutMs);
    throw error;
  } finally {
    context.work = undefined;
  }
}

/** `promise`, or an OperationTimeout when it has not settled after `timeoutMs`. */
export async function settleWithin<T>(timeoutMs: number | undefined, promise: Promise<T>): Promise<T> {
  if (timeoutMs === undefined) return promise;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new OperationTimeout(timeoutMs)), timeoutMs); });
  // The abandoned work may still fail later; that is no longer anyone's concern.
  promise.catch(() => undefined);
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
