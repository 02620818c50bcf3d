// Whether this machine can be given a WebGPU adapter by installing Mesa's lavapipe (software Vulkan), and the
// exact command that does it: shared by the test set-up (which installs it when it can) and the webgpu tests
// (which, where it cannot, skip with one line naming the command). See scripts/install-system.sh.
import { existsSync, readFileSync } from 'node:fs';

/** Debian 12 (bookworm), where bookworm-backports has a Mesa that Dawn accepts. */
export function isDebian12(): boolean {
  try {
    return readFileSync('/etc/debian_version', 'utf8').trim().startsWith('12');
  } catch {
    return false;
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Set by a user (or a test) to choose Vulkan drivers: an empty or wrong one hides every driver. */
export function vulkanDriverOverride(): string | undefined {
  return process.env['VK_DRIVER_FILES'] || process.env['VK_ICD_FILENAMES'] || undefined;
}

/** Why the set-up cannot install lavapipe here, or undefined when it can. */
export function cannotInstallVulkan(): string | undefined {
  if (!isDebian12()) return 'not Debian 12 (lavapipe comes from bookworm-backports)';
  if (!existsSync('/usr/bin/apt-get')) return 'no apt-get';
  if (!isRoot()) return 'not root';
  return undefined;
}

/** The exact command that gives this machine a WebGPU adapter. */
export function enableWebgpuCommand(): string {
  const override = vulkanDriverOverride();
  if (override !== undefined) return `unset VK_DRIVER_FILES VK_ICD_FILENAMES (they point Vulkan at '${override}')`;
  if (isDebian12()) return `${isRoot() ? '' : 'sudo '}bash scripts/install-system.sh --vulkan`;
  return 'install a Vulkan driver for your GPU (without a GPU: Mesa >= 23 lavapipe, package mesa-vulkan-drivers)';
}
