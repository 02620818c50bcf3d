// Where a Chromium for the book's browser test is, and installing Debian's as root (as setup installs Jupyter).
// playwright-core drives it through `executablePath`; it never downloads a browser of its own. The flags keep a
// headless run off the network: no background requests, component updates or sync.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The one command that gets a browser for the test, for messages. */
export const INSTALL_CHROMIUM_HELP = 'sudo apt-get install -y chromium   (or set LORA_LAB_CHROMIUM to a Chromium/Chrome binary)';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** $LORA_LAB_CHROMIUM, else the first of Debian's / Ubuntu's / Google's usual paths that exists. */
export function findChromium(): string | undefined {
  const env = process.env['LORA_LAB_CHROMIUM'];
  if (env) return existsSync(env) ? env : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

/** Launch flags for a headless run that makes no request of its own (see ENVIRONMENT.md). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
];

/**
 * For `npm test`'s set-up: returns the browser, installing Debian's `chromium` first when it is missing and we
 * are root with apt-get. Returns undefined when there is none (the browser test then says how to get one).
 */
export function ensureChromium(): string | undefined {
  const found = findChromium();
  if (found !== undefined || process.env['LORA_LAB_CHROMIUM']) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) return undefined;
  console.log('setup: Chromium not found; installing it from Debian packages (apt-get) for the book test ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const install =
    update.status === 0
      ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env })
      : update;
  if (install.status !== 0) console.error(`setup: installing Chromium failed; by hand: ${INSTALL_CHROMIUM_HELP}`);
  return findChromium();
}
