// How far apart two arrays of numbers are: the largest absolute difference and the relative error in the
// Frobenius sense, ‖a − b‖_F / ‖b‖_F (b the reference). Shapes must agree; flat, nested and Matrix inputs alike.
import { Matrix } from 'ml-matrix';

type Numbers = ArrayLike<number> | readonly (readonly number[])[] | Matrix;

function flat(x: Numbers): number[] {
  if (x instanceof Matrix) return x.to1DArray();
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = (x as ArrayLike<unknown>)[i];
    if (typeof v === 'number') out.push(v);
    else out.push(...(v as readonly number[]));
  }
  return out;
}

function pair(a: Numbers, b: Numbers): [number[], number[]] {
  const [fa, fb] = [flat(a), flat(b)];
  if (fa.length !== fb.length) throw new Error(`cannot compare ${fa.length} numbers with ${fb.length}: give arrays of the same shape`);
  return [fa, fb];
}

/** max_i |a_i − b_i|. */
export function maxAbsDiff(a: Numbers, b: Numbers): number {
  const [fa, fb] = pair(a, b);
  let m = 0;
  for (let i = 0; i < fa.length; i++) m = Math.max(m, Math.abs(fa[i]! - fb[i]!));
  return m;
}

/** ‖a − b‖_F / ‖b‖_F; 0 when both are zero, Infinity when only the reference is. */
export function relativeError(a: Numbers, b: Numbers): number {
  const [fa, fb] = pair(a, b);
  let num = 0;
  let den = 0;
  for (let i = 0; i < fa.length; i++) {
    num += (fa[i]! - fb[i]!) ** 2;
    den += fb[i]! ** 2;
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}
