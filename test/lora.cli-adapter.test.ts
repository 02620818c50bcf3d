// `lora-lab adapter inspect`: prints a valid adapter's config, keys, shapes and count; a bad folder is a
// one-line error (exit code 1 through main); bad usage is a UsageError (exit code 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { adapterCommand } from '../src/cli/adapter.js';
import { UsageError } from '../src/cli/command.js';

const FIXTURE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'adapters', 'peft-tiny');

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    const code = await fn();
    return { code, out: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

test('inspect prints config, keys with dtype and shape, and the parameter count', async () => {
  const { code, out } = await capture(() => adapterCommand.run(['inspect', FIXTURE_DIR]));
  assert.equal(code, 0);
  assert.match(out, /^r\s+2$/m);
  assert.match(out, /^lora_alpha\s+4\s+\(scaling 2, α\/r\)$/m);
  assert.match(out, /^target_modules\s+v_proj, q_proj$/m);
  assert.match(out, /^parameters\s+104 in 4 tensors, 2 LoRA modules$/m);
  assert.match(out, /^base_model\.model\.encoder\.q_proj\.lora_A\.weight\s+F32\s+\[2, 16\]$/m);
  const json = await capture(() => adapterCommand.run(['inspect', FIXTURE_DIR, '--json']));
  assert.equal(JSON.parse(json.out).parameters, 104);
});

test('a bad adapter folder rejects with one line naming the problem; bad usage is a UsageError', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lora-lab-cli-'));
  await fs.copyFile(path.join(FIXTURE_DIR, 'adapter_config.json'), path.join(dir, 'adapter_config.json'));
  const good = await fs.readFile(path.join(FIXTURE_DIR, 'adapter_model.safetensors'));
  await fs.writeFile(path.join(dir, 'adapter_model.safetensors'), good.subarray(0, good.length - 4));
  await assert.rejects(adapterCommand.run(['inspect', dir]), (e: Error) => {
    assert.ok(!(e instanceof UsageError));
    assert.match(e.message, /adapter_model\.safetensors, tensor '.*': data_offsets \[\d+, \d+\] run past the data section/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  await assert.rejects(adapterCommand.run(['inspect']), (e: Error) => e instanceof UsageError && /missing adapter folder/.test(e.message));
  await assert.rejects(adapterCommand.run(['show', dir]), (e: Error) => e instanceof UsageError && /unknown subcommand 'show'; subcommands: inspect/.test(e.message));
  await fs.rm(dir, { recursive: true });
});
