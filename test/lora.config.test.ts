// LoRA config: PEFT defaults, one clear message per invalid value, PEFT's target matching, rsLoRA scaling,
// and adapter_config.json in/out (benign PEFT fields tolerated, unsupported features rejected by name).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromPeftJson, loraConfig, loraScaling, matchesTarget, toPeftJson } from '../src/lora/config.js';

/** assert.throws against the message itself (so ^ and $ anchor the whole message). */
function throwsMessage(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.match(e.message, re);
    return true;
  });
}

test('defaults follow PEFT: r 8, alpha 8, dropout 0, bias none, init true', () => {
  const c = loraConfig({ target_modules: ['q_proj'] });
  assert.equal(c.r, 8);
  assert.equal(c.lora_alpha, 8);
  assert.equal(c.lora_dropout, 0);
  assert.equal(c.bias, 'none');
  assert.equal(c.init_lora_weights, true);
  assert.equal(c.use_rslora, false);
  assert.equal(c.use_dora, false);
  assert.equal(c.loraplus_lr_ratio, undefined);
  assert.ok(Object.isFrozen(c));
  assert.deepEqual(loraConfig(c), c); // a validated config passes through unchanged
});

const bad: [string, Record<string, unknown>, RegExp][] = [
  ['r = 0', { r: 0 }, /^r must be a positive integer, got 0: use r >= 1 \(e\.g\. 8\)$/],
  ['r = 2.5', { r: 2.5 }, /r must be a positive integer, got 2\.5/],
  ['r a string', { r: '8' }, /r must be a positive integer, got "8"/],
  ['alpha = 0', { lora_alpha: 0 }, /lora_alpha must be a number > 0, got 0/],
  ['dropout = 1', { lora_dropout: 1 }, /lora_dropout must be in \[0, 1\), got 1/],
  ['dropout < 0', { lora_dropout: -0.1 }, /lora_dropout must be in \[0, 1\), got -0\.1/],
  ['unknown key', { rank: 4 }, /unknown LoRA config key 'rank'; valid keys are: r, lora_alpha, /],
  ['bad bias', { bias: 'some' }, /bias must be 'none', 'all' or 'lora_only', got "some"/],
  ['bad init', { init_lora_weights: 'olora' }, /init_lora_weights must be true, false, 'gaussian' or 'pissa', got "olora"/],
  ['bad loraplus ratio', { loraplus_lr_ratio: -2 }, /loraplus_lr_ratio must be a number > 0 \(LoRA\+ suggests 16\), got -2/],
  ['use_dora not boolean', { use_dora: 'yes' }, /use_dora must be true or false, got "yes"/],
  ['empty target list', { target_modules: [] }, /target_modules is an empty list/],
  ['bad regex', { target_modules: '(' }, /target_modules regex '\(' is invalid/],
  ['target not string', { target_modules: [3] }, /target_modules entries must be non-empty strings, got 3/],
];
for (const [name, input, message] of bad) {
  test(`config rejects ${name}`, () => {
    throwsMessage(() => loraConfig({ target_modules: ['q'], ...input } as never), message);
  });
}

test('target_modules is required', () => {
  assert.throws(() => loraConfig({ r: 4 }), /target_modules is required: e\.g\. \['q_proj', 'v_proj'\]/);
});

test('PEFT matching: exact or "." + suffix for lists, full-match regex for strings', () => {
  assert.ok(matchesTarget('layers.0.self_attn.q_proj', ['q_proj']));
  assert.ok(matchesTarget('q_proj', ['q_proj']));
  assert.ok(matchesTarget('layers.0.self_attn.q_proj', ['self_attn.q_proj']));
  assert.ok(!matchesTarget('layers.0.self_attn.xq_proj', ['q_proj'])); // suffix must start at a "."
  assert.ok(!matchesTarget('layers.0.self_attn.q_proj', ['q'])); // not a substring match
  assert.ok(matchesTarget('layers.1.self_attn.v_proj', String.raw`layers\.1\..*(q|v)_proj`));
  assert.ok(!matchesTarget('layers.1.self_attn.v_proj', 'v_proj')); // a regex must match the whole path
});

test('scaling = alpha / r; rsLoRA scaling = alpha / sqrt(r)', () => {
  assert.equal(loraScaling(loraConfig({ r: 16, lora_alpha: 32, target_modules: ['q'] })), 2);
  assert.equal(loraScaling(loraConfig({ r: 16, lora_alpha: 32, use_rslora: true, target_modules: ['q'] })), 8);
});

test('toPeftJson writes PEFT fields; fromPeftJson reads them back', () => {
  const c = loraConfig({ r: 4, lora_alpha: 16, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj'], use_dora: true, task_type: 'CAUSAL_LM', loraplus_lr_ratio: 16 });
  const json = toPeftJson(c);
  assert.equal(json.peft_type, 'LORA');
  assert.equal(json.fan_in_fan_out, false);
  assert.deepEqual(json.rank_pattern, {});
  assert.equal(json.modules_to_save, null);
  assert.ok(!('loraplus_lr_ratio' in json) && !('seed' in json), 'training-only settings are not PEFT config fields');
  assert.deepEqual(Object.keys(json), Object.keys(json).sort(), 'keys sorted like PEFT (sort_keys=True)');
  const back = fromPeftJson(JSON.parse(JSON.stringify(json)));
  assert.deepEqual({ ...back, loraplus_lr_ratio: 16 }, c);
});

test('fromPeftJson tolerates benign and "off" fields, rejects features it does not implement', () => {
  const base = { peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['q_proj'] };
  const ok = fromPeftJson({ ...base, revision: 'main', peft_version: '0.17.1', auto_mapping: { base_model_class: 'X' }, qalora_group_size: 16, use_qalora: false, some_future_flag: null, fan_in_fan_out: true });
  assert.equal(ok.r, 4);
  throwsMessage(() => fromPeftJson({ ...base, rank_pattern: { q_proj: 8 } }, 'a/adapter_config.json'),
    /^a\/adapter_config\.json: rank_pattern = \{"q_proj":8\} \(per-layer ranks\) is not supported/);
  assert.throws(() => fromPeftJson({ ...base, modules_to_save: ['classifier'] }), /modules_to_save = \["classifier"\] \(fully trained extra modules\) is not supported/);
  assert.throws(() => fromPeftJson({ ...base, some_future_flag: 3 }), /unknown field 'some_future_flag' = 3 may change what the adapter computes/);
  assert.throws(() => fromPeftJson({ ...base, peft_type: 'IA3' }), /peft_type must be "LORA", got "IA3"/);
  assert.throws(() => fromPeftJson({ ...base, init_lora_weights: 'pissa_niter_4' }), /randomized-SVD PiSSA base cannot be rebuilt exactly/);
  throwsMessage(() => fromPeftJson({ ...base, r: 0 }, 'x.json'), /^x\.json: r must be a positive integer, got 0/);
  assert.throws(() => fromPeftJson([1]), /must be a JSON object, got an array/);
});
