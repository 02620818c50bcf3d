// The WebAssembly SIMD GEMM (src/backend/gemm.ts) and its registration as the cpu/wasm matMul kernels
// (src/backend/fast-matmul.ts): products and gradients equal a float64 reference and TF.js's own kernels.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { batchMatMulF32, fastMatMulInstalled, gemm, gemmAvailable, releaseBackend, uninstallFastMatMul, useBackend } from '../src/backend/index.js';

/** Deterministic values in [−1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** C = op(A)·op(B) in float64, straight from the definition. */
function reference(a: Float32Array, b: Float32Array, M: number, K: number, N: number, ta: boolean, tb: boolean): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ta ? k * M + i : i * K + k]! * b[tb ? j * K + k : k * N + j]!;
      c[i * N + j] = s;
    }
  }
  return c;
}

function maxAbs(x: ArrayLike<number>, y: ArrayLike<number>): number {
  assert.equal(x.length, y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

describe('WebAssembly SIMD GEMM', () => {
  after(() => releaseBackend());

  it('is available in this Node (WebAssembly SIMD)', () => {
    assert.equal(gemmAvailable(), true);
  });

  it('equals the float64 definition for odd shapes, every transpose, K past one cache block', () => {
    // M, N not multiples of the 4×8 tile; K = 300 spans two K blocks of 256.
    for (const [M, K, N] of [[1, 1, 1], [5, 3, 9], [13, 300, 17], [8, 8, 8]] as const) {
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const a = values(M * K, M + K);
          const b = values(K * N, K + N);
          const c = batchMatMulF32(a, ta ? [1, K, M] : [1, M, K], b, tb ? [1, N, K] : [1, K, N], ta, tb);
          const err = maxAbs(c, reference(a, b, M, K, N, ta, tb));
          assert.ok(err < 1e-4 * Math.sqrt(K), `M=${M} K=${K} N=${N} ta=${ta} tb=${tb}: error ${err}`);
        }
      }
    }
  });

  it('packs operands with no unit stride too (every other float of wider rows), for A and for B', () => {
    const [M, K, N] = [9, 13, 11];
    const wide = values(2 * M * K + 2 * K * N, 7); // A's rows, then B's rows, each twice as wide as needed
    const strided = (offset: number, rowStride: number) => ({ data: wide, offset, rowStride, colStride: 2 });
    const c = new Float32Array(M * N);
    gemm(M, N, K, strided(0, 2 * K), strided(2 * M * K, 2 * N), c);
    const a = Float32Array.from({ length: M * K }, (_, i) => wide[2 * i]!);
    const b = Float32Array.from({ length: K * N }, (_, i) => wide[2 * M * K + 2 * i]!);
    assert.ok(maxAbs(c, reference(a, b, M, K, N, false, false)) < 1e-5);
  });

  it('the epilogue is C + bias (float32) then relu, bit for bit as in JS: one value or one per column, −0 and NaN kept', () => {
    const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));
    for (const [M, K, N] of [[5, 3, 9], [13, 300, 17], [4, 0, 8], [2, 1, 3]] as const) {
      const a = values(M * K, 11);
      const b = values(K * N, 12);
      if (K > 0) b[0] = 0; // column 0 of row 0 of A·B then gets products with a zero...
      const perColumn = values(N, 13);
      perColumn[0] = -0;
      if (N > 2) perColumn[2] = NaN;
      for (const bias of [undefined, perColumn, Float32Array.of(-0.25)]) {
        for (const relu of [false, true]) {
          const plain = batchMatMulF32(a, [1, M, K], b, [1, K, N], false, false);
          for (let i = 0; i < plain.length; i++) {
            if (bias !== undefined) plain[i] = plain[i]! + (bias.length === 1 ? bias[0]! : bias[i % N]!);
            if (relu && plain[i]! < 0) plain[i] = 0;
          }
          const fused = batchMatMulF32(a, [1, M, K], b, [1, K, N], false, false, undefined, { bias, relu });
          assert.deepEqual(bits(fused), bits(plain), `M=${M} K=${K} N=${N} bias=${bias?.length} relu=${relu}`);
        }
      }
    }
    assert.throws(() => batchMatMulF32(values(6, 1), [1, 2, 3], values(12, 2), [1, 3, 4], false, false, undefined, {
      bias: values(3, 3),
    }), { message: 'matMul bias has 3 values for N = 4 columns: give N values or 1' });
  });

  it('broadcasts a batch of 1 against a batch of 3', () => {
    const [M, K, N] = [3, 4, 5];
    const a = values(M * K, 1);
    const b = values(3 * K * N, 2);
    const c = batchMatMulF32(a, [1, M, K], b, [3, K, N], false, false);
    for (let i = 0; i < 3; i++) {
      const ref = reference(a, b.subarray(i * K * N, (i + 1) * K * N), M, K, N, false, false);
      assert.ok(maxAbs(c.subarray(i * M * N, (i + 1) * M * N), ref) < 1e-5, `batch ${i}`);
    }
  });

  it('rejects mismatched inner dimensions, naming both', () => {
    assert.throws(() => batchMatMulF32(values(6, 1), [1, 2, 3], values(8, 2), [1, 4, 2], false, false), {
      message: 'matMul inner dimensions differ: A gives K = 3, B gives K = 4',
    });
  });

  // The reference is TF.js's own cpu kernels. (Not its wasm ones: tfjs-backend-wasm 4.22's _FusedMatMul with
  // transposeB and a bias returns wrong rows past the first, e.g. [[1,2],[3,4]]·[[1,0],[0,1],[1,1]]ᵀ + [10,−100,1]
  // gives [4,5,8] for row 2 instead of [13,−96,8]; the kernel registered here does not take that path.)
  const x3 = () => tf.tensor3d(values(2 * 6 * 5, 3), [2, 6, 5]); // [batch, M, K]
  async function products(): Promise<number[][]> {
    const x = x3();
    const w = tf.tensor2d(values(5 * 7, 4), [5, 7]); // [K, N]
    const wT = tf.tensor2d(values(7 * 5, 5), [7, 5]); // [N, K]
    const bias = tf.tensor1d(values(7, 6)); // [N]
    const outs = tf.tidy(() => [
      tf.matMul(x, tf.stack([w, w]) as tf.Tensor3D), // batched
      tf.matMul(x.reshape([12, 5]), wT, false, true), // transposed B
      tf.matMul(x.reshape([12, 5]), x.reshape([12, 5]), true, false), // transposed A: a weight-gradient shape
      tf.fused.matMul({ a: x.reshape([12, 5]) as tf.Tensor2D, b: wT, transposeB: true, bias, activation: 'relu' }),
      tf.grad((v: tf.Tensor) => tf.matMul(x.reshape([12, 5]), v as tf.Tensor2D).square().sum())(w), // xᵀ·2(x·w)
    ]);
    const data = await Promise.all(outs.map((t) => t.data()));
    tf.dispose([...outs, x, w, wT, bias]);
    return data.map((d) => Array.from(d));
  }

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`${backend}: the registered kernels give TF.js cpu's results, gradients included, without leaks`, async () => {
      await useBackend('cpu', { log: null, fastMatMul: false });
      const stock = await products();
      const info = await useBackend(backend, { log: null });
      assert.equal(info.fastMatMul, true);
      assert.equal(fastMatMulInstalled(backend), true);
      const before = tf.memory().numTensors;
      const fast = await products();
      assert.equal(tf.memory().numTensors, before);
      fast.forEach((f, i) => assert.ok(maxAbs(f, stock[i]!) < 1e-5, `${backend} output ${i} differs by ${maxAbs(f, stock[i]!)}`));
      uninstallFastMatMul(backend);
      assert.equal(fastMatMulInstalled(backend), false);
    });
  }

  it('wasm: Identity shares memory safely (clone outlives its source; assigning a variable leaves clones alone)', async () => {
    await useBackend('wasm', { log: null });
    const before = tf.memory().numTensors;
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x); // the Identity kernel
    x.dispose();
    assert.deepEqual(Array.from(await y.data()), [1, 2, 3]);
    const v = tf.tidy(() => tf.variable(tf.tensor1d([4, 5, 6])));
    const snapshot = v.clone();
    tf.tidy(() => v.assign(tf.tensor1d([7, 8, 9])));
    assert.deepEqual(Array.from(await snapshot.data()), [4, 5, 6]);
    assert.deepEqual(Array.from(await v.data()), [7, 8, 9]);
    tf.dispose([y, v, snapshot]);
    assert.equal(tf.memory().numTensors, before);
  });

  it('wasm: a Cast to the same dtype shares memory safely; other casts still convert', async () => {
    await useBackend('wasm', { log: null });
    const before = tf.memory().numTensors;
    const x = tf.tensor1d([1.5, -2.25, 3]);
    const y = tf.cast(x, 'float32'); // shares x's memory
    x.dispose();
    assert.deepEqual(Array.from(await y.data()), [1.5, -2.25, 3]);
    const v = tf.tidy(() => tf.variable(tf.tensor1d([4, 5, 6])));
    const c = tf.cast(v, 'float32');
    tf.tidy(() => v.assign(tf.tensor1d([7, 8, 9])));
    assert.deepEqual(Array.from(await c.data()), [4, 5, 6]); // assign replaces the variable's data, not the cast's
    const i = tf.cast(y, 'int32');
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(Array.from(await i.data()), [1, -2, 3]);
    const t = tf.tensor1d([2, 3]);
    const g = tf.grad((u: tf.Tensor) => u.mul(u).sum())(t); // Mul's gradient casts its operands to float32
    assert.deepEqual(Array.from(await g.data()), [4, 6]);
    tf.dispose([y, v, c, i, t, g]);
    assert.equal(tf.memory().numTensors, before);
  });

  it('fastMatMul: false (or LORA_LAB_FAST_MATMUL=0) keeps the backend kernels', async () => {
    const info = await useBackend('cpu', { log: null, fastMatMul: false });
    assert.equal(info.fastMatMul, false);
    assert.equal(fastMatMulInstalled('cpu'), false);
    const on = await useBackend('cpu', { log: null });
    assert.equal(on.fastMatMul, true);
  });
});
