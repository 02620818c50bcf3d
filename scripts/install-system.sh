#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for lora-lab, as root: Jupyter (Debian's packages: PyPI is
# not needed) and, for the webgpu backend on machines without a GPU, the Vulkan loader + Mesa's lavapipe from
# bookworm-backports (Dawn refuses bookworm's Mesa 22). Idempotent and version-checked: skips what is there.
# Usage: install-system.sh [--jupyter] [--vulkan] [--quiet]   (no part named = both; --quiet: silent when present)
set -euo pipefail

want_jupyter=0; want_vulkan=0; quiet=0
for arg in "$@"; do
  case "$arg" in
    --jupyter|--jupyter-only) want_jupyter=1 ;;
    --vulkan) want_vulkan=1 ;;
    --quiet) quiet=1 ;;
    *) echo "install-system.sh: unknown option '$arg' (options: --jupyter, --vulkan, --quiet)" >&2; exit 2 ;;
  esac
done
[ "$want_jupyter" = 1 ] || [ "$want_vulkan" = 1 ] || { want_jupyter=1; want_vulkan=1; }

if [ "$(id -u)" != 0 ]; then
  echo "install-system.sh must run as root (it uses apt-get). As a user, see README 'Troubleshooting'." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes

need_jupyter=0
if [ "$want_jupyter" = 1 ]; then
  /usr/bin/python3 -c 'import jupyter_client, ipykernel, notebook, nbformat' 2>/dev/null || need_jupyter=1
fi
need_vulkan=0
# Dawn refuses bookworm's Mesa 22 lavapipe: we need the loader and Mesa >= 23 (bookworm-backports has 25).
mesa=$(dpkg-query -W -f='${Status} ${Version}' mesa-vulkan-drivers 2>/dev/null | sed -n 's/^install ok installed //p' || true)
if [ "$want_vulkan" = 1 ] && { ! ldconfig -p | grep -q 'libvulkan.so.1' || [ -z "$mesa" ] || dpkg --compare-versions "$mesa" lt 23; }; then
  need_vulkan=1
fi
if [ "$need_jupyter" = 0 ] && [ "$need_vulkan" = 0 ]; then
  [ "$quiet" = 1 ] || echo "install-system: already present: $([ "$want_jupyter" = 1 ] && echo 'Jupyter ')$([ "$want_vulkan" = 1 ] && echo "Vulkan loader + Mesa lavapipe $mesa")"
  exit 0
fi
if [ "$need_vulkan" = 1 ] && ! grep -qs '^12' /etc/debian_version; then
  echo "install-system: lavapipe comes from bookworm-backports, for Debian 12 only; this is $(cat /etc/debian_version 2>/dev/null || echo 'not Debian'): install a Vulkan driver by hand" >&2
  exit 1
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
  echo "install-system: installed Jupyter (Debian packages) in $SECONDS s"
fi
if [ "$need_vulkan" = 1 ]; then
  apt-get install -y -qq --no-install-recommends libvulkan1 >/dev/null
  apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers >/dev/null
  echo "install-system: installed the Vulkan loader and Mesa lavapipe (bookworm-backports) in $SECONDS s"
fi
