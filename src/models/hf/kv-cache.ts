// The key/value cache of incremental decoding (transformers' DynamicCache): each attention layer keeps the
// keys and values of every position seen so far, [B, h_kv, S, d_h], so a new token attends to them without
// recomputing the prefix. One step appends T positions; `length` is S, the position of the next token.
import * as tf from '@tensorflow/tfjs';

export class KvCache {
  /** Positions held (the next token's absolute position). */
  private length_ = 0;
  private readonly keys: (tf.Tensor4D | null)[];
  private readonly values: (tf.Tensor4D | null)[];
  readonly numLayers: number;
  /** Most positions the model reads (its context length). */
  readonly maxLength: number;
  private disposed = false;

  constructor(numLayers: number, maxLength: number) {
    this.numLayers = numLayers;
    this.maxLength = maxLength;
    this.keys = Array.from({ length: numLayers }, () => null);
    this.values = Array.from({ length: numLayers }, () => null);
  }

  get length(): number {
    return this.length_;
  }

  /** Throws unless `t` more positions fit; call before a forward pass uses the cache. */
  assertRoom(t: number, batch: number): void {
    if (this.disposed) throw new Error('this KvCache was disposed: start a new one with model.newCache()');
    if (this.length_ + t > this.maxLength) {
      throw new Error(
        `the cache holds ${this.length_} positions and ${t} more exceed the context length ${this.maxLength}: start a new cache`,
      );
    }
    const k = this.keys[0];
    if (k !== null && k !== undefined && k.shape[0] !== batch) {
      throw new Error(`the cache was filled with batch ${k.shape[0]}, got batch ${batch}: use one cache per batch`);
    }
  }

  /**
   * Layer `i`'s keys and values with `k`, `v` [B, h_kv, T, d_h] appended: [B, h_kv, S + T, d_h]. The results
   * are kept (they outlive the caller's tidy) and the previous ones freed.
   */
  append(i: number, k: tf.Tensor4D, v: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D] {
    const oldK = this.keys[i] ?? null;
    const oldV = this.values[i] ?? null;
    const newK = oldK === null ? k : (tf.concat([oldK, k], 2) as tf.Tensor4D);
    const newV = oldV === null ? v : (tf.concat([oldV, v], 2) as tf.Tensor4D);
    tf.keep(newK);
    tf.keep(newV);
    oldK?.dispose();
    oldV?.dispose();
    this.keys[i] = newK;
    this.values[i] = newV;
    return [newK, newV];
  }

  /** Records that a forward pass appended `t` positions to every layer. */
  advance(t: number): void {
    this.length_ += t;
  }

  /** Frees every cached tensor. */
  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
    this.disposed = true;
  }
}
