// check() prints or throws; tables and progress lines have one stable shape.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { check, checkClose, CheckError, formatDuration, formatStep, tableBundle } from '../src/notebook/index.js';

describe('check', () => {
  it('prints "✓ message" when true', (t) => {
    const log = t.mock.method(console, 'log', () => {});
    check(true, 'it holds');
    assert.deepEqual(log.mock.calls.map((c) => c.arguments), [['✓ it holds']]);
  });

  it('throws CheckError("✗ message") when false', () => {
    assert.throws(() => check(false, 'it holds'), (e: Error) => e instanceof CheckError && e.message === '✗ it holds');
  });

  it('checkClose shows both numbers and fails on NaN', (t) => {
    const log = t.mock.method(console, 'log', () => {});
    checkClose(1.0000001, 1, 1e-6, 'close');
    assert.match(String(log.mock.calls[0]!.arguments[0]), /^✓ close \(1 vs 1, \|Δ\| = 1\.00e-7 ≤ 1\.00e-6\)$/);
    assert.throws(() => checkClose(NaN, 1, 1, 'nan'), CheckError);
    assert.throws(() => checkClose(1.1, 1, 0.01, 'far'), /✗ far/);
  });
});

describe('display helpers', () => {
  it('a table has HTML and aligned plain text, integers with separators', () => {
    const b = tableBundle([{ name: 'lora_A', params: 16384, share: 0.015625 }], { title: 'counts' });
    assert.match(b['text/html']!, /<caption>counts<\/caption>/);
    assert.match(b['text/html']!, /<td>16,384<\/td><td>0\.01563<\/td>/);
    assert.equal(b['text/plain'], 'counts\n  name  params    share\nlora_A  16,384  0.01563');
  });

  it('the progress line has the house shape', () => {
    assert.equal(
      formatStep({ step: 100, steps: 500, loss: 0.41234, valLoss: 0.441, msPerStep: 12.34, etaMs: 125_000 }),
      'step 100/500  loss 0.4123  val 0.4410  12.3 ms/step  ETA 2 min 5 s',
    );
    assert.equal(formatDuration(3_600_000 + 60_000), '1 h 1 min');
  });
});
