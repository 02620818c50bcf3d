// A Hugging Face tokenizer from its files: tokenizer.json through @huggingface/tokenizers (the pure-JS port of
// the `tokenizers` library: normalizer → pre-tokenizer → BPE/Unigram/WordPiece → post-processor → decoder),
// special tokens and bos/eos from tokenizer_config.json, generation_config.json and config.json (generation's
// first, as transformers' generate() reads them), and the chat template rendered by @huggingface/jinja.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { dataPath } from '../checkpoint.js';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface HfTokenizerSources {
  /** generation_config.json, parsed. */
  generationConfig?: Record<string, unknown>;
  /** config.json, parsed (its bos/eos ids are the fallback). */
  modelConfig?: Record<string, unknown>;
  /** Where the files came from, for errors. */
  source?: string;
}

type Json = Record<string, unknown>;

/** A special token in tokenizer_config.json: a string or an AddedToken object {content, ...}. */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json)['content'] === 'string') return (v as Json)['content'] as string;
  return null;
}

function ids(v: unknown): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x): x is number => Number.isInteger(x) && (x as number) >= 0);
}

async function readJson(file: string, required: boolean): Promise<Json | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`${file} is missing: copy the model's tokenizer files (tokenizer.json, tokenizer_config.json) into ${path.dirname(file)}`);
    }
    throw e;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON (${(e as Error).message}): restore it from the model's repository`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${file} must hold a JSON object`);
  return v as Json;
}

/**
 * transformers' LlamaTokenizerFast rebuilds tokenizer.json's post-processor from add_bos_token/add_eos_token
 * (update_post_processor); do the same so bos/eos are added exactly when transformers adds them.
 */
function llamaPostProcessor(json: Json, config: Json): Json {
  const cls = config['tokenizer_class'];
  const addBos = config['add_bos_token'];
  const addEos = config['add_eos_token'];
  if (typeof cls !== 'string' || !/^(Code)?LlamaTokenizer(Fast)?$/.test(cls)) return json;
  if (typeof addBos !== 'boolean' && typeof addEos !== 'boolean') return json;
  const added = (json['added_tokens'] ?? []) as { id: number; content: string }[];
  const idOf = (t: string | null) => (t === null ? undefined : added.find((a) => a.content === t)?.id);
  const bos = tokenText(config['bos_token']);
  const eos = tokenText(config['eos_token']);
  const single: unknown[] = [];
  const specials: Json = {};
  const special = (t: string, id: number) => {
    single.push({ SpecialToken: { id: t, type_id: 0 } });
    specials[t] = { id: t, ids: [id], tokens: [t] };
  };
  const bosId = idOf(bos);
  const eosId = idOf(eos);
  if (addBos === true && bos !== null && bosId !== undefined) special(bos, bosId);
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (addEos === true && eos !== null && eosId !== undefined) special(eos, eosId);
  const pair = [...single, ...single.map((s) => ((s as Json)['Sequence'] ? { Sequence: { id: 'B', type_id: 1 } } : s))];
  return { ...json, post_processor: { type: 'TemplateProcessing', single, pair, special_tokens: specials } };
}

export class HfTokenizer {
  private readonly tok: Tokenizer;
  readonly config: Readonly<Json>;
  /** Token ids 0 .. vocabSize − 1 (added tokens included; the model's vocab_size may be larger). */
  readonly vocabSize: number;
  readonly bosId: number | null;
  /** Every id that ends generation (generation_config's eos_token_id list, else config.json's, else eos_token). */
  readonly eosIds: readonly number[];
  readonly padId: number | null;
  /** The Jinja chat template, or null when tokenizer_config.json has none. */
  readonly chatTemplate: string | null;
  private template: Template | null = null;
  private readonly specialText: Record<string, string>;

  constructor(tokenizerJson: unknown, tokenizerConfig: Json = {}, sources: HfTokenizerSources = {}) {
    const where = sources.source ?? 'tokenizer.json';
    if (typeof tokenizerJson !== 'object' || tokenizerJson === null || typeof (tokenizerJson as Json)['model'] !== 'object') {
      throw new Error(`${where} is not a tokenizer.json (no "model" object): use the file saved by a Hugging Face tokenizer`);
    }
    const json = llamaPostProcessor(tokenizerJson as Json, tokenizerConfig);
    try {
      this.tok = new Tokenizer(json, tokenizerConfig);
    } catch (e) {
      throw new Error(`${where} could not be read by @huggingface/tokenizers: ${(e as Error).message}`);
    }
    this.config = tokenizerConfig;
    const vocab = this.tok.get_vocab(true);
    let max = -1;
    for (const id of vocab.values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    const gen = sources.generationConfig ?? {};
    const model = sources.modelConfig ?? {};
    this.specialText = {};
    for (const k of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const t = tokenText(tokenizerConfig[k]);
      if (t !== null) this.specialText[k] = t;
    }
    const idOfText = (k: string) => {
      const t = this.specialText[k];
      return t === undefined ? undefined : this.tok.token_to_id(t);
    };
    this.bosId = ids(gen['bos_token_id'])[0] ?? ids(model['bos_token_id'])[0] ?? idOfText('bos_token') ?? null;
    const eos = ids(gen['eos_token_id']);
    const eosList = eos.length > 0 ? eos : ids(model['eos_token_id']);
    const eosText = idOfText('eos_token');
    this.eosIds = eosList.length > 0 ? eosList : eosText === undefined ? [] : [eosText];
    this.padId = ids(gen['pad_token_id'])[0] ?? idOfText('pad_token') ?? ids(model['pad_token_id'])[0] ?? null;
    const ct = tokenizerConfig['chat_template'];
    if (typeof ct === 'string') this.chatTemplate = ct;
    else if (Array.isArray(ct)) {
      // A list of named templates: transformers uses the one named "default".
      const named = ct.find((t) => (t as Json)['name'] === 'default') as Json | undefined;
      this.chatTemplate = typeof named?.['template'] === 'string' ? (named['template'] as string) : null;
    } else this.chatTemplate = null;
  }

  /** Reads tokenizer.json (required), tokenizer_config.json, generation_config.json and config.json from `dir`. */
  static async fromDir(dir: string): Promise<HfTokenizer> {
    const json = await readJson(path.join(dir, 'tokenizer.json'), true);
    const config = (await readJson(path.join(dir, 'tokenizer_config.json'), false)) ?? {};
    const generationConfig = await readJson(path.join(dir, 'generation_config.json'), false);
    const modelConfig = await readJson(path.join(dir, 'config.json'), false);
    return new HfTokenizer(json, config, { generationConfig, modelConfig, source: path.join(dir, 'tokenizer.json') });
  }

  /** The first eos id (or null when the files name none). */
  get eosId(): number | null {
    return this.eosIds[0] ?? null;
  }

  /** Token ids of `text`; special tokens (e.g. Llama's <s>) are added as the post-processor says, unless false. */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /** The token strings of `text` (no special tokens added). */
  tokenize(text: string): string[] {
    return this.tok.tokenize(text, { add_special_tokens: false });
  }

  /** Text of `ids`; special tokens kept unless skipSpecialTokens. */
  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`token id ${id} is outside the tokenizer's vocabulary 0..${this.vocabSize - 1}`);
      }
    }
    return this.tok.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /**
   * The chat template applied to `messages` (transformers' apply_chat_template(tokenize=False)): the prompt
   * text, ending with the assistant's header when addGenerationPrompt.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    if (this.chatTemplate === null) {
      throw new Error(
        'this tokenizer has no chat_template in tokenizer_config.json: use {"prompt", "completion"} or {"text"} data, or add a template',
      );
    }
    messages.forEach((m, i) => {
      if (typeof m?.role !== 'string' || typeof m?.content !== 'string') {
        throw new Error(`message ${i} must be {"role": string, "content": string}, got ${JSON.stringify(m)}`);
      }
    });
    this.template ??= new Template(this.chatTemplate);
    return this.template.render({
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      ...this.specialText,
    });
  }

  /** Token ids of the rendered chat (the template writes the special tokens itself, so none are added). */
  encodeChat(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, options), { addSpecialTokens: false });
  }
}

/** GPT-2's tokenizer as shipped in data/tokenizers/gpt2 (derived from js-tiktoken's r50k_base ranks). */
export async function bundledGpt2Tokenizer(): Promise<HfTokenizer> {
  return HfTokenizer.fromDir(dataPath('tokenizers/gpt2'));
}
