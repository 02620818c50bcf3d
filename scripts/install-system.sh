#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for lora-lab, as root: Jupyter (Debian's packages: PyPI is
# not needed) and, for the webgpu backend on machines without a GPU, the Vulkan loader + Mesa's lavapipe from
# bookworm-backports (Dawn refuses bookworm's Mesa 22). Idempotent; skips what is already there.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "install-system.sh must run as root (it uses apt-get). As a user, see README 'Troubleshooting'." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

need_jupyter=0
/usr/bin/python3 -c 'import jupyter_client, ipykernel, notebook, nbformat' 2>/dev/null || need_jupyter=1
need_vulkan=0
[ "${1:-}" = --jupyter-only ] && jupyter_only=1 || jupyter_only=0
# Dawn refuses bookworm's Mesa 22 lavapipe: we need the loader and Mesa >= 23 (bookworm-backports has 25).
mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
if [ "$jupyter_only" = 0 ] && { ! ldconfig -p | grep -q 'libvulkan.so.1' || [ -z "$mesa" ] || dpkg --compare-versions "$mesa" lt 23; }; then
  need_vulkan=1
fi
if [ "$need_jupyter" = 0 ] && [ "$need_vulkan" = 0 ]; then
  echo "install-system: Jupyter and Vulkan/lavapipe already present"
  exit 0
fi

if [ "$need_vulkan" = 1 ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # Same mirror and keyring as the machine's existing Debian source.
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=http://deb.debian.org/debian
  cat > /etc/apt/sources.list.d/bookworm-backports.sources <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

apt-get update -qq
if [ "$need_jupyter" = 1 ]; then
  apt-get install -y -qq --no-install-recommends \
    jupyter-notebook jupyter-nbconvert python3-nbclient python3-ipykernel python3-jupyter-client >/dev/null
  echo "install-system: installed Jupyter (Debian packages)"
fi
if [ "$need_vulkan" = 1 ]; then
  apt-get install -y -qq --no-install-recommends libvulkan1 >/dev/null
  apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers >/dev/null
  echo "install-system: installed the Vulkan loader and Mesa lavapipe (bookworm-backports)"
fi
