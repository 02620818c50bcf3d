// How many threads lora-lab's GEMM uses: LORA_LAB_THREADS, else the cores this process may use (its CPU affinity,
// capped by a container's cgroup CPU quota), at most 8. The calling thread counts as one; 1 = no worker threads.
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Most threads the default uses (a reader's laptop has 4-16 cores; past 8 the hand-off outweighs the gain). */
export const DEFAULT_THREAD_CAP = 8;

/** Threads (calling thread included) from LORA_LAB_THREADS, else defaultThreads(). */
export function threadsFromEnv(value: string | undefined = process.env['LORA_LAB_THREADS']): number {
  if (value === undefined || value.trim() === '') return defaultThreads();
  const n = Number(value.trim());
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new Error(
      `LORA_LAB_THREADS='${value}' is not a thread count: set a whole number from 1 to 256 (1 = no worker threads), ` +
        `or unset it for the default (${defaultThreads()} here)`,
    );
  }
  return n;
}

/** The cores this process may use (its CPU affinity), capped by a container's CPU quota (cgroups), and at most 8. */
export function defaultThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const quota = cpuQuota();
  return Math.max(1, Math.min(DEFAULT_THREAD_CAP, cores, quota === undefined ? cores : Math.ceil(quota)));
}

/** CPUs a cgroup quota allows ("200000 100000" → 2 in cgroup v2's cpu.max; "max 100000": none). */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  const q = Number(quota);
  const p = Number(period ?? 100000);
  return quota === 'max' || !(q > 0) || !(p > 0) ? undefined : q / p;
}

/** The CPU quota of this process's cgroup (v2, else v1), in CPUs; undefined where none is set or readable. */
export function cpuQuota(): number | undefined {
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
  };
  const groups = read('/proc/self/cgroup') ?? '';
  const v2 = /^0::(.*)$/m.exec(groups)?.[1];
  for (const file of [...(v2 !== undefined ? [`/sys/fs/cgroup${v2}/cpu.max`] : []), '/sys/fs/cgroup/cpu.max']) {
    const text = read(file.replace('//', '/'));
    if (text !== undefined) return parseCpuMax(text);
  }
  const v1 = /^\d+:[^:]*\bcpu\b[^:]*:(.*)$/m.exec(groups)?.[1] ?? '/';
  for (const dir of [`/sys/fs/cgroup/cpu${v1}`, '/sys/fs/cgroup/cpu']) {
    const quota = read(`${dir.replace(/\/$/, '')}/cpu.cfs_quota_us`);
    const period = read(`${dir.replace(/\/$/, '')}/cpu.cfs_period_us`);
    if (quota !== undefined && period !== undefined) return parseCpuMax(`${quota.trim()} ${period.trim()}`);
  }
  return undefined;
}
