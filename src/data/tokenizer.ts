// A character-level tokenizer: one id per character plus three special tokens (pad, bos, eos).
// The vocabulary is deterministic: specials first (ids 0, 1, 2), then the characters in code-point order,
// so the same character set always gives the same ids (needed for checkpoints to be portable).

export const PAD = '<pad>';
export const BOS = '<bos>';
export const EOS = '<eos>';
const SPECIALS = [PAD, BOS, EOS] as const;

/** The characters of the bundled tasks: space, '=' (prompt/answer separator) and a–z. */
export const DEFAULT_CHARS = ' =abcdefghijklmnopqrstuvwxyz';

/** What a tokenizer is in a checkpoint's config.json. */
export interface TokenizerJson {
  type: 'char';
  /** Special tokens, in id order (ids 0..2). */
  specials: string[];
  /** Every ordinary character, in id order (ids 3..). */
  chars: string;
}

export interface EncodeOptions {
  /** Prepend <bos>. @default false */
  bos?: boolean;
  /** Append <eos>. @default false */
  eos?: boolean;
}

function describe(ch: string): string {
  const cp = ch.codePointAt(0)!;
  return `'${ch}' (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

export class CharTokenizer {
  readonly padId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  /** The ordinary characters in id order (id = 3 + index). */
  readonly chars: string;
  private readonly charList: string[];
  private readonly ids: Map<string, number>;

  /** A tokenizer over the given characters (deduplicated and sorted by code point). */
  constructor(chars: string = DEFAULT_CHARS) {
    const unique = [...new Set([...chars])].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    if (unique.length === 0) throw new Error('a tokenizer needs at least one character, got an empty string');
    this.chars = unique.join('');
    this.charList = unique;
    this.ids = new Map(unique.map((c, i) => [c, SPECIALS.length + i]));
  }

  /** A tokenizer covering exactly the characters that occur in `text`. */
  static fromText(text: string): CharTokenizer {
    return new CharTokenizer(text);
  }

  /** Rebuilds a tokenizer from its JSON (config.json), checking that it is one this class wrote. */
  static fromJSON(json: unknown, source = 'tokenizer'): CharTokenizer {
    const j = json as Partial<TokenizerJson> | null;
    if (j === null || typeof j !== 'object' || j.type !== 'char' || typeof j.chars !== 'string') {
      throw new Error(`${source}: expected {"type": "char", "specials": [...], "chars": "..."}, got ${JSON.stringify(json)}`);
    }
    if (JSON.stringify(j.specials) !== JSON.stringify(SPECIALS)) {
      throw new Error(`${source}: specials must be ${JSON.stringify(SPECIALS)}, got ${JSON.stringify(j.specials)}`);
    }
    const tok = new CharTokenizer(j.chars);
    if (tok.chars !== j.chars) {
      throw new Error(`${source}: chars must be unique and in code-point order, got ${JSON.stringify(j.chars)}`);
    }
    return tok;
  }

  toJSON(): TokenizerJson {
    return { type: 'char', specials: [...SPECIALS], chars: this.chars };
  }

  /** Number of ids: specials + characters. */
  get vocabSize(): number {
    return SPECIALS.length + this.charList.length;
  }

  /** Text → ids. An unknown character is an error naming it, its position and the vocabulary. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = options.bos ? [this.bosId] : [];
    let i = 0;
    for (const ch of text) {
      const id = this.ids.get(ch);
      if (id === undefined) {
        throw new Error(
          `unknown character ${describe(ch)} at index ${i} of ${JSON.stringify(text)}; ` +
            `the vocabulary is ${JSON.stringify(this.chars)}: use only these characters or build a tokenizer ` +
            `that has it (new CharTokenizer(chars) / CharTokenizer.fromText(corpus))`,
        );
      }
      out.push(id);
      i++;
    }
    if (options.eos) out.push(this.eosId);
    return out;
  }

  /** Ids → text. Specials are dropped unless `keepSpecials`; decoding stops at the first <eos> if `stopAtEos`. */
  decode(ids: readonly number[], options: { keepSpecials?: boolean; stopAtEos?: boolean } = {}): string {
    let s = '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`token id ${id} is outside the vocabulary 0..${this.vocabSize - 1}`);
      }
      if (id === this.eosId && options.stopAtEos) break;
      if (id < SPECIALS.length) {
        if (options.keepSpecials) s += SPECIALS[id];
        continue;
      }
      s += this.charList[id - SPECIALS.length];
    }
    return s;
  }
}
