// check() prints or throws; tables and progress lines have one stable shape.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lineChart } from '../src/charts/index.js';
import {
  CHART_PNG_SCALE, chartOutput, check, checkClose, CheckError, formatDuration, formatStep, pngSize, tableBundle,
} from '../src/notebook/index.js';

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

describe('chart outputs', () => {
  it('the PNG is drawn at 2× and its metadata shows it at the design size', async () => {
    const spec = lineChart([{ x: 0, y: 1 }, { x: 1, y: 2 }], { x: 'x', y: 'y', title: 't', width: 300, height: 120 });
    const { data, metadata } = await chartOutput(spec);
    const png = Buffer.from(data['image/png'] as string, 'base64');
    const px = pngSize(png);
    const shown = metadata['image/png'] as { width: number; height: number };
    assert.equal(CHART_PNG_SCALE, 2);
    assert.equal(shown.width, Math.round(px.width / 2));
    assert.equal(shown.height, Math.round(px.height / 2));
    // The design width plus axes and padding: a 300-px plot is shown a little over 300 px wide, not 600.
    assert.ok(shown.width > 300 && shown.width < 420, `shown ${shown.width} px wide`);
    assert.ok(Number.isInteger(shown.width) && Number.isInteger(shown.height));
    assert.deepEqual(data['application/vnd.vegalite.v5+json'], spec);
  });
});
