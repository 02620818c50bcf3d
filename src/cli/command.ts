// What every `lora-lab <command>` is: a name, a one-line summary, a help text and a run function, and the flag
// parsing every command shares.
// main.ts dispatches on the name; a thrown UsageError becomes one line on stderr and exit code 2,
// any other error one line and exit code 1 (no stack trace unless LORA_LAB_DEBUG=1).

export interface Command {
  /** The word after `lora-lab`, e.g. "finetune" or "adapter". */
  readonly name: string;
  /** One line for `lora-lab --help`. */
  readonly summary: string;
  /** The full `lora-lab <name> --help` text: usage line, then every flag with its default. */
  readonly help: string;
  /** Runs with the arguments after the command name. Resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/** Bad command-line input: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface FlagSpec {
  /** 'string' flags take a value (`--r 8` or `--r=8`); 'boolean' flags take none. */
  readonly type: 'string' | 'boolean';
}

/**
 * Parses `--flag value`, `--flag=value` and boolean `--flag` against a spec.
 * Unknown flags are an error naming the flag and the known ones; so is a string flag without a value.
 */
export function parseFlags(
  args: string[],
  spec: Record<string, FlagSpec>,
): { flags: Record<string, string | boolean>; positional: string[] } {
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const flag = spec[name];
    if (flag === undefined) {
      const known = Object.keys(spec).map((k) => `--${k}`).join(', ');
      throw new UsageError(`unknown flag '--${name}'; known flags: ${known}`);
    }
    if (flag.type === 'boolean') {
      if (eq !== -1) throw new UsageError(`flag '--${name}' takes no value, got '${arg.slice(eq + 1)}'`);
      flags[name] = true;
    } else if (eq !== -1) {
      flags[name] = arg.slice(eq + 1);
    } else {
      const value = args[i + 1];
      if (value === undefined || value.startsWith('--')) {
        throw new UsageError(`flag '--${name}' needs a value, e.g. --${name} <value>`);
      }
      flags[name] = value;
      i++;
    }
  }
  return { flags, positional };
}

/** An integer flag >= min, or `fallback` when absent; bad input is a UsageError naming the flag and an example. */
export function parseIntFlag(flags: Record<string, string | boolean>, name: string, fallback: number, min = 0): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got '${String(raw)}': e.g. --${name} ${Math.max(fallback, min)}`);
  }
  return v;
}

/** A positive number flag, or `fallback` when absent. */
export function parseNumberFlag(flags: Record<string, string | boolean>, name: string, fallback: number): number {
  const raw = flags[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`--${name} must be a positive number, got '${String(raw)}': e.g. --${name} ${fallback}`);
  return v;
}
