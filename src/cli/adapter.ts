// `lora-lab adapter inspect <dir>`: validates a PEFT-format LoRA adapter folder (config, safetensors
// structure, key names, dtypes, shapes against r) and prints its config, tensors and parameter count.
import { readAdapter } from '../lora/adapter.js';
import { loraScaling } from '../lora/config.js';
import { parseFlags, UsageError, type Command } from './command.js';

const HELP = [
  'usage: lora-lab adapter inspect <dir> [--json]',
  '',
  'Checks an adapter folder (adapter_config.json + adapter_model.safetensors, as PEFT saves them) and prints',
  'its LoRA config, every tensor key with dtype and shape, and the parameter count. A folder that fails',
  'validation prints one line saying why and exits with code 1.',
  '',
  'flags:',
  '  --json   print the summary as JSON instead of a table (default: off)',
].join('\n');

export const adapterCommand: Command = {
  name: 'adapter',
  summary: 'inspect and validate a PEFT-format LoRA adapter folder',
  help: HELP,
  async run(args) {
    const { flags, positional } = parseFlags(args, { json: { type: 'boolean' } });
    const [sub, dir, ...extra] = positional;
    if (sub !== 'inspect') {
      throw new UsageError(sub === undefined ? 'missing subcommand: lora-lab adapter inspect <dir>' : `unknown subcommand '${sub}'; subcommands: inspect`);
    }
    if (dir === undefined) throw new UsageError('missing adapter folder: lora-lab adapter inspect <dir>');
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}': inspect takes one folder`);

    const ad = await readAdapter(dir);
    const c = ad.config;
    const tensors = [...ad.tensors].map(([key, t]) => ({ key, dtype: t.dtype, shape: t.shape }));
    const loraModules = [...ad.modules.values()].filter((m) => m.lora_A).length;
    if (flags.json === true) {
      console.log(JSON.stringify({
        dir, config: { ...c }, scaling: loraScaling(c), fan_in_fan_out: ad.fanInFanOut, base_quantization: ad.baseQuantization,
        modules: loraModules, parameters: ad.numParams, tensors,
      }, null, 2));
      return 0;
    }
    const targets = typeof c.target_modules === 'string' ? c.target_modules : c.target_modules.join(', ');
    const q = ad.baseQuantization;
    const keyWidth = Math.max(3, ...tensors.map((t) => t.key.length));
    console.log(
      [
        `adapter         ${dir}  (valid PEFT LoRA adapter)`,
        `r               ${c.r}`,
        `lora_alpha      ${c.lora_alpha}  (scaling ${+loraScaling(c).toPrecision(6)}${c.use_rslora ? ', rsLoRA α/√r' : ', α/r'})`,
        `lora_dropout    ${c.lora_dropout}`,
        `target_modules  ${targets}`,
        `bias            ${c.bias}`,
        `use_dora        ${c.use_dora}`,
        `init            ${c.init_lora_weights}`,
        `base model      ${c.base_model_name_or_path ?? '(not recorded)'}`,
        `fan_in_fan_out  ${ad.fanInFanOut}${ad.fanInFanOut ? '  (targets store W as [in, out], e.g. GPT-2 Conv1D)' : ''}`,
        `base quantised  ${q ? `${q.bits}, blocks of ${q.block_size}${q.double_quant ? ', double quantisation' : ''}, ${q.modules.length} layers (re-quantised on load)` : 'no'}`,
        `parameters      ${ad.numParams.toLocaleString('en-US')} in ${tensors.length} tensors, ${loraModules} LoRA modules`,
        '',
        `${'key'.padEnd(keyWidth)}  dtype  shape`,
        ...tensors.map((t) => `${t.key.padEnd(keyWidth)}  ${t.dtype.padEnd(5)}  [${t.shape.join(', ')}]`),
      ].join('\n'),
    );
    return 0;
  },
};
