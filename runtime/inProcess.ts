// In-process transport: every device in one thread, one TensorFlow.js engine.
// Tensors change hands without copies. When every unfinished device waits
// on a message nobody can send any more, the run stops with a deadlock
// error that names each waiting device (the compiler proves this cannot
// happen; this catches a broken stream rather than hanging).

import type { Tensor } from './layers/types.ts';
import { RuntimeFault } from './messages.ts';
import type { Transport } from './interpreter.ts';
import { diagnosticMessages } from '../grammar/diagnosticMessages.ts';

interface Waiter {
  readonly key: string;
  readonly device: number;
  readonly resolve: (tensors: Tensor[]) => void;
  readonly reject: (error: Error) => void;
}

export class InProcessTransport implements Transport {
  private readonly mailbox = new Map<string, Tensor[]>();
  private readonly waiters = new Map<string, Waiter>();
  private active: number;
  private readonly deviceNames: ReadonlyMap<number, string>;

  constructor(deviceNames: ReadonlyMap<number, string>) {
    this.deviceNames = deviceNames;
    this.active = deviceNames.size;
  }

  /** Starts a step: every device is running again. */
  begin(): void {
    this.active = this.deviceNames.size;
  }

  /** Called when a device's stream has ended (or failed). */
  finished(): void {
    this.active--;
    this.checkDeadlock();
  }

  async send(from: number, to: number, tag: string, tensors: Tensor[]): Promise<void> {
    const key = `${from}>${to}|${tag}`;
    const waiter = this.waiters.get(key);
    if (waiter) {
      this.waiters.delete(key);
      waiter.resolve(tensors);
      return;
    }
    if (this.mailbox.has(key)) throw new Error(`message ${tag} from device ${from} to ${to} sent twice`);
    this.mailbox.set(key, tensors);
  }

  receive(from: number, to: number, tag: string): Promise<Tensor[]> {
    const key = `${from}>${to}|${tag}`;
    const message = this.mailbox.get(key);
    if (message) {
      this.mailbox.delete(key);
      return Promise.resolve(message);
    }
    return new Promise((resolve, reject) => {
      this.waiters.set(key, { key, device: to, resolve, reject });
      this.checkDeadlock();
    });
  }

  private checkDeadlock(): void {
    // Checked after the current microtasks settle: a send may be on its way.
    queueMicrotask(() => setImmediate(() => {
      if (this.waiters.size === 0 || this.waiters.size < this.active) return;
      const waiting = [...this.waiters.values()].map((w) => `${this.deviceNames.get(w.device) ?? w.device} waits for ${w.key.split('|')[1]} from device ${w.key.split('>')[0]}`);
      const error = new RuntimeFault(diagnosticMessages.runtimeDeadlock, waiting.join('; '));
      for (const waiter of this.waiters.values()) waiter.reject(error);
      this.waiters.clear();
    }));
  }

  /** Messages sent but never received (a leak, or a stream that stopped early). */
  dispose(): number {
    let left = 0;
    for (const tensors of this.mailbox.values()) for (const tensor of tensors) { tensor.dispose(); left++; }
    this.mailbox.clear();
    return left;
  }
}
