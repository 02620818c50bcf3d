// demoPicture: the deterministic test image of notebook 01 (shape, range, determinism, low-rank structure).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { demoPicture, energy, singularValues } from '../src/linalg/index.js';

describe('demoPicture', () => {
  it('is size×size, in [0, 1] and the same every time', () => {
    const a = demoPicture(48);
    assert.equal(a.length, 48);
    assert.ok(a.every((row) => row.length === 48 && row.every((v) => v >= 0 && v <= 1)));
    assert.deepEqual(a, demoPicture(48));
  });
  it('is dominated by a few singular values but is not low-rank exactly', () => {
    const s = singularValues(demoPicture(96));
    assert.ok(energy(s, 1) > 0.95, `rank-1 share ${energy(s, 1)}`);
    assert.ok(s[19] > 1e-3 * s[0], 'edges keep σ_20 away from zero');
  });
  it('names a bad size', () => {
    assert.throws(() => demoPicture(8), /size must be an integer >= 16, got 8: use e\.g\. 96/);
  });
});
