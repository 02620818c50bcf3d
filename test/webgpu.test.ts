// The webgpu backend's tests (test/webgpu/*.ts), run where Dawn finds an adapter: a GPU, or Mesa's lavapipe,
// which the test set-up installs on Debian 12 as root. Elsewhere they are skipped with one line naming the reason
// and the command that enables them; under CI=true nothing is skipped, so a missing adapter fails.
import { describe } from 'node:test';
import { probeWebgpu } from '../src/backend/webgpu-probe.js';
import { enableWebgpuCommand } from '../scripts/lib/vulkan.js';

const ci = !['', '0', 'false'].includes((process.env['CI'] ?? '').toLowerCase());
const probe = ci ? undefined : await probeWebgpu();
if (probe !== undefined && probe.adapter === null) {
  const skip = `no WebGPU adapter (${probe.reason}); to run them: ${enableWebgpuCommand()}`;
  describe('webgpu tests skipped', { skip }, () => {});
} else {
  await import('./webgpu/backend.js');
  await import('./webgpu/finetune.js');
  await import('./webgpu/release.js');
}
