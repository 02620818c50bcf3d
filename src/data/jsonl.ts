// Fine-tuning data as PEFT/TRL users keep it: a JSONL file, one JSON object per line, in one of TRL's dataset formats
// (trl SFTTrainer: "prompt-completion" {"prompt", "completion"}, "language modeling" {"text"}, "conversational"
// {"messages": [{"role", "content"}, ...]}). Parsing only: every bad line is an error naming the file, the line
// number and the fix. Blank lines are skipped; other fields on a line are ignored, as datasets carry ids and metadata.
import { promises as fs } from 'node:fs';

/** One chat turn. */
export interface SftMessage {
  role: string;
  content: string;
}

/** One line of a JSONL file; `line` is its 1-based number in the file. */
export type SftExample =
  | { kind: 'prompt_completion'; line: number; prompt: string; completion: string }
  | { kind: 'text'; line: number; text: string }
  | { kind: 'messages'; line: number; messages: SftMessage[] };

const FORMATS = '{"prompt": "...", "completion": "..."}, {"text": "..."} or {"messages": [{"role": "user", "content": "..."}, ...]}';

function example(value: unknown, where: string, line: number): SftExample {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected a JSON object (${FORMATS}), got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
  }
  const o = value as Record<string, unknown>;
  const str = (k: string, allowEmpty: boolean): string => {
    const v = o[k];
    if (typeof v !== 'string') throw new Error(`${where}: "${k}" must be a string, got ${JSON.stringify(v)}`);
    if (!allowEmpty && v.length === 0) throw new Error(`${where}: "${k}" is empty: give it some text, or drop the line`);
    return v;
  };
  if ('prompt' in o || 'completion' in o) {
    if (!('completion' in o)) throw new Error(`${where}: has "prompt" but no "completion": add the text the model should answer`);
    if (!('prompt' in o)) throw new Error(`${where}: has "completion" but no "prompt": add the prompt (it may be "")`);
    return { kind: 'prompt_completion', line, prompt: str('prompt', true), completion: str('completion', false) };
  }
  if ('text' in o) return { kind: 'text', line, text: str('text', false) };
  if ('messages' in o) {
    const m = o['messages'];
    if (!Array.isArray(m) || m.length === 0) throw new Error(`${where}: "messages" must be a non-empty list of {"role", "content"}, got ${JSON.stringify(m)}`);
    const messages = m.map((x, i) => {
      const msg = x as Record<string, unknown> | null;
      if (typeof msg !== 'object' || msg === null || typeof msg['role'] !== 'string' || typeof msg['content'] !== 'string') {
        throw new Error(`${where}: message ${i} must be {"role": string, "content": string}, got ${JSON.stringify(x)}`);
      }
      return { role: msg['role'], content: msg['content'] };
    });
    if (!messages.some((x) => x.role === 'assistant')) {
      throw new Error(`${where}: no "assistant" message, so nothing to learn (loss is on the assistant's turns): add one`);
    }
    return { kind: 'messages', line, messages };
  }
  const keys = Object.keys(o);
  throw new Error(`${where}: expected ${FORMATS}; this line has ${keys.length ? `keys ${keys.map((k) => `"${k}"`).join(', ')}` : 'no keys'}`);
}

/** Parses JSONL text; `source` names the file in errors. An empty text (or only blank lines) is an error. */
export function parseJsonl(text: string, source = 'data.jsonl'): SftExample[] {
  const out: SftExample[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${source}:${line}: not valid JSON (${(e as Error).message}): each line must be one JSON object`);
    }
    out.push(example(value, `${source}:${line}`, line));
  });
  if (out.length === 0) throw new Error(`${source} is empty: write one JSON object per line, e.g. ${FORMATS}`);
  return out;
}

/** Reads and parses a JSONL file. */
export async function readJsonl(file: string): Promise<SftExample[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): pass a JSONL file`);
  }
  return parseJsonl(text, file);
}
