// Asks for a WebGPU adapter in a short child process, so that Dawn's native warnings while it looks for Vulkan
// ("Couldn't load Vulkan", "Found no drivers!", limit notes, C++ source paths) go to the child's stderr, which we
// read for a reason and then drop: Dawn writes them to file descriptor 2 from native code, out of JavaScript's
// reach. Dawn is loaded in-process only once a probe said that its adapter will be used.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';

export interface WebgpuProbe {
  /** The adapter's vendor, architecture and description, or null when there is none. */
  readonly adapter: string | null;
  /** A CPU rasteriser (Mesa lavapipe/llvmpipe, SwiftShader): the GPU code path, at CPU speed. */
  readonly software: boolean;
  /** Why there is no adapter, in a few words (from Dawn's messages); empty when there is one. */
  readonly reason: string;
}

const requireHere = createRequire(import.meta.url);
let cached: Promise<WebgpuProbe> | undefined;

/** True for an adapter description that names a CPU rasteriser. */
export function isSoftwareAdapter(architecture: string | undefined, description: string): boolean {
  return architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(description);
}

// The child: load Dawn, ask for an adapter, print one JSON line, exit (a live GPU object keeps Node running).
const CHILD = `
const w = require(process.argv[1]);
Object.assign(globalThis, w.globals);
w.create([]).requestAdapter().then((a) => {
  const i = a && a.info;
  process.stdout.write(JSON.stringify(a ? { vendor: i && i.vendor, architecture: i && i.architecture,
    description: i && i.description } : null) + '\\n');
  process.exit(0);
}, (e) => { process.stdout.write(JSON.stringify({ error: String(e) }) + '\\n'); process.exit(0); });
`;

/** Dawn's stderr, boiled down to why no adapter was found. */
export function reasonFromDawn(stderr: string): string {
  if (/Couldn't load Vulkan|libvulkan\.so/i.test(stderr)) return 'no Vulkan loader (libvulkan.so.1)';
  if (/Found no drivers|VK_ERROR_INCOMPATIBLE_DRIVER/i.test(stderr)) return 'no Vulkan driver (ICD) found';
  return 'Dawn found no adapter';
}

/**
 * Probes once per process (about 0.2 s) and remembers the answer. Never throws; never prints.
 * `fresh` probes again (after a driver was installed).
 */
export function probeWebgpu(options: { fresh?: boolean } = {}): Promise<WebgpuProbe> {
  if (cached !== undefined && options.fresh !== true) return cached;
  cached = new Promise((resolve) => {
    let entry: string;
    try {
      entry = requireHere.resolve('webgpu');
    } catch {
      resolve({ adapter: null, software: false, reason: 'the `webgpu` package is not installed (npm install webgpu)' });
      return;
    }
    const env = { ...process.env, XDG_RUNTIME_DIR: process.env['XDG_RUNTIME_DIR'] ?? '/tmp' };
    execFile(process.execPath, ['-e', CHILD, entry], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      const line = String(stdout).trim().split('\n').pop() ?? '';
      let parsed: { vendor?: string; architecture?: string; description?: string; error?: string } | null | undefined;
      try {
        parsed = JSON.parse(line) as typeof parsed;
      } catch {
        parsed = undefined;
      }
      if (parsed === undefined || (parsed !== null && parsed.error !== undefined)) {
        const why = parsed?.error ?? (err ? err.message.split('\n')[0] : 'no answer');
        resolve({ adapter: null, software: false, reason: `loading Dawn failed: ${why}` });
      } else if (parsed === null) {
        resolve({ adapter: null, software: false, reason: reasonFromDawn(String(stderr)) });
      } else {
        const desc = [parsed.vendor, parsed.architecture, parsed.description].filter(Boolean).join(' ') || 'unknown adapter';
        resolve({ adapter: desc, software: isSoftwareAdapter(parsed.architecture, desc), reason: '' });
      }
    });
  });
  return cached;
}
