// check(): how every worked example in a notebook states its claim. A true claim prints "✓ claim";
// a false one throws, so the notebook (and the notebook runner in CI) stops right there.

/** Thrown by `check` when a claim is false. */
export class CheckError extends Error {
  override readonly name = 'CheckError';
}

/** Prints "✓ message" when `condition` holds; throws CheckError("✗ message") when it does not. */
export function check(condition: boolean, message: string): void {
  if (!condition) throw new CheckError(`✗ ${message}`);
  console.log(`✓ ${message}`);
}

/**
 * Checks |actual − expected| ≤ tol and prints both numbers, so the reader sees how close it came.
 * Non-finite values always fail.
 */
export function checkClose(actual: number, expected: number, tol: number, message: string): void {
  const diff = Math.abs(actual - expected);
  const ok = Number.isFinite(actual) && Number.isFinite(expected) && diff <= tol;
  check(ok, `${message} (${fmt(actual)} vs ${fmt(expected)}, |Δ| = ${fmt(diff)} ≤ ${fmt(tol)})`);
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e6 ? Number(x.toPrecision(6)).toString() : x.toExponential(2);
}
