// The character tokenizer: deterministic ids, lossless round trip, a clear error for unknown characters,
// and JSON (config.json) round trip with validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CharTokenizer, DEFAULT_CHARS } from '../src/data/tokenizer.js';

test('ids are specials 0..2, then characters in code-point order, whatever the input order', () => {
  const a = new CharTokenizer('cab');
  const b = new CharTokenizer('bcaab');
  assert.equal(a.chars, 'abc');
  assert.deepEqual(a.encode('abc'), [3, 4, 5]);
  assert.deepEqual(b.encode('abc'), [3, 4, 5]);
  assert.equal(a.vocabSize, 6);
  assert.deepEqual([a.padId, a.bosId, a.eosId], [0, 1, 2]);
  assert.equal(new CharTokenizer().vocabSize, 3 + DEFAULT_CHARS.length);
});

test('encode/decode round trip, with and without specials', () => {
  const tok = new CharTokenizer();
  const text = 'abc de=ed cba';
  const ids = tok.encode(text, { bos: true, eos: true });
  assert.equal(ids[0], tok.bosId);
  assert.equal(ids.at(-1), tok.eosId);
  assert.equal(ids.length, text.length + 2);
  assert.equal(tok.decode(ids), text);
  assert.equal(tok.decode(ids, { keepSpecials: true }), `<bos>${text}<eos>`);
  assert.equal(tok.decode([...tok.encode('ab'), tok.eosId, ...tok.encode('zz')], { stopAtEos: true }), 'ab');
});

test('an unknown character is an error naming it, its index and the vocabulary', () => {
  const tok = new CharTokenizer();
  assert.throws(() => tok.encode('abQd'), (e: Error) => {
    assert.match(e.message, /unknown character 'Q' \(U\+0051\) at index 2 of "abQd"/);
    assert.match(e.message, /the vocabulary is " =abcdefghijklmnopqrstuvwxyz"/);
    assert.match(e.message, /fromText/);
    return true;
  });
  assert.throws(() => tok.decode([999]), /token id 999 is outside the vocabulary 0\.\.30/);
});

test('JSON round trip; a tampered vocabulary is refused', () => {
  const tok = new CharTokenizer('xyz =');
  const back = CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
  assert.equal(back.chars, tok.chars);
  assert.deepEqual(back.encode('z y'), tok.encode('z y'));
  assert.throws(() => CharTokenizer.fromJSON({ type: 'char', specials: ['<pad>', '<bos>', '<eos>'], chars: 'zyx' }), /code-point order/);
  assert.throws(() => CharTokenizer.fromJSON({ type: 'char', specials: ['<bos>'], chars: 'ab' }), /specials must be/);
  assert.throws(() => CharTokenizer.fromJSON({ type: 'bpe' }), /expected \{"type": "char"/);
});
