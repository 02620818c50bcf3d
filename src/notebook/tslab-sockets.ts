// tslab sends kernel messages without waiting for the previous send on the same socket to finish; zeromq 6
// throws "Socket is busy writing" (EBUSY) for an overlapping send, and since nothing catches it the kernel dies
// mid-notebook (seen with frequent progress output on a loaded machine). Queueing each socket's sends behind
// the previous one keeps their order and removes the overlap. Applied once, inside a tslab kernel only.
import { createRequire } from 'node:module';

type Send = (this: object, ...args: unknown[]) => Promise<void>;
const QUEUED = Symbol.for('lora-lab.queuedSend');
/** Each socket's last queued send (native sockets take no new properties, so the tails live here). */
const tails = new WeakMap<object, Promise<void>>();

/** Makes `proto.send` wait for the same socket's previous send. Idempotent. */
export function queueSends(proto: { send?: Send }): void {
  const original = proto.send;
  if (typeof original !== 'function' || (original as unknown as Record<symbol, boolean>)[QUEUED]) return;
  const queued = function (this: object, ...args: unknown[]): Promise<void> {
    const next = (tails.get(this) ?? Promise.resolve()).then(() => original.apply(this, args));
    tails.set(this, next.catch(() => undefined)); // a failed send must not block the ones after it
    return next;
  };
  (queued as unknown as Record<symbol, boolean>)[QUEUED] = true;
  // zeromq defines send read-only (but configurable) on its native prototype.
  Object.defineProperty(proto, 'send', { value: queued, writable: false, configurable: true });
}

/** In a tslab kernel (its jupyter module loaded), queue the sends of the zeromq it uses. */
export function queueTslabSends(): void {
  let req: NodeJS.Require;
  try {
    req = createRequire(createRequire(import.meta.url).resolve('tslab/package.json'));
    if (req.cache[req.resolve('tslab/dist/jupyter.js')] === undefined) return; // not inside a kernel
    const zmq = req('zeromq') as { Socket?: { prototype: { send?: Send } } };
    if (zmq.Socket) queueSends(zmq.Socket.prototype);
  } catch {
    // no tslab or no zeromq here: nothing to fix
  }
}
