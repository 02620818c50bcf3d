#!/usr/bin/env bash
# Packs everything scripts/gpu-check.sh needs on a Linux x86-64 GPU machine that has no internet, Node.js or npm
# into one folder (default gpu-bundle/, at most 64 MiB): a stripped Node binary, the bench, fine-tune and interop
# export bundled by esbuild into .mjs files, GPT-2's tokenizer, the PyTorch peers and the transformers + PEFT interop
# check (Python), the `webgpu` package's Dawn binary for linux-x64, the wasm backend's .wasm files,
# the Vulkan loader (libvulkan.so.1) and a fallback glibc/libstdc++ for hosts older than this one.
# Run here (where node_modules is installed): bash scripts/pack-gpu-bundle.sh [DEST]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$ROOT/gpu-bundle}
NODE_BIN=${NODE_BIN:-$(command -v node)}
LIMIT_MIB=64
MULTIARCH=/lib/x86_64-linux-gnu

die() { echo "pack-gpu-bundle: $*" >&2; exit 1; }
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "run this on Linux x86-64 (the GPU machine's platform), not $(uname -s)-$(uname -m)"
[ -x "$ROOT/node_modules/.bin/esbuild" ] || die "node_modules/.bin/esbuild is missing: run npm install first"
[ -f "$ROOT/node_modules/webgpu/dist/linux-x64/dawn.node" ] || die "node_modules/webgpu has no linux-x64 dawn.node: run npm install first"
VULKAN=$(readlink -f "$MULTIARCH/libvulkan.so.1" 2>/dev/null || true)
[ -f "$VULKAN" ] || die "no $MULTIARCH/libvulkan.so.1 here: apt-get install -y libvulkan1"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
P="$STAGE/payload"
mkdir -p "$P/bin" "$P/app" "$P/lib" "$P/glibc" "$P/node_modules/webgpu/dist/linux-x64"

echo "node: $NODE_BIN ($("$NODE_BIN" --version)), stripped"
strip -o "$P/bin/node" "$NODE_BIN" 2>/dev/null || cp "$NODE_BIN" "$P/bin/node"
chmod 755 "$P/bin/node"

echo "app: esbuild bench/run.ts bench/finetune.ts -> app/*.mjs"
# ESM bundles, with require/__dirname defined for the CommonJS inside (the wasm backend finds its .wasm files
# next to the bundle through __dirname). `webgpu` stays outside: its native binary loads from node_modules/.
BANNER="import { createRequire as __lbCreateRequire } from 'node:module'; import { fileURLToPath as __lbPath } from 'node:url'; import { dirname as __lbDir } from 'node:path'; const require = __lbCreateRequire(import.meta.url); const __filename = __lbPath(import.meta.url); const __dirname = __lbDir(__filename);"
(cd "$ROOT" && node_modules/.bin/esbuild bench/run.ts bench/finetune.ts --bundle --platform=node --format=esm \
  --target=node20 --outdir="$P/app" --out-extension:.js=.mjs --external:webgpu \
  --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --banner:js="$BANNER" --log-level=warning)
mv "$P/app/run.mjs" "$P/app/bench.mjs"
cp "$ROOT"/node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$P/app/"

echo "interop: esbuild scripts/interop-export.ts -> app/interop/, GPT-2's tokenizer -> data/, the Python scripts"
# In app/interop/ so that the bundle's data path (two folders up, then data/) is payload/data.
mkdir -p "$P/app/interop" "$P/data/tokenizers"
(cd "$ROOT" && node_modules/.bin/esbuild scripts/interop-export.ts --bundle --platform=node --format=esm \
  --target=node20 --outfile="$P/app/interop/interop-export.mjs" --external:webgpu \
  --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --banner:js="$BANNER" --log-level=warning)
cp -r "$ROOT/data/tokenizers/gpt2" "$P/data/tokenizers/gpt2"
cp "$ROOT/scripts/interop-check.py" "$P/app/interop-check.py"
# bench/lib/torch-peer.ts finds the peers one folder above the bench bundle.
cp "$ROOT/bench/torch_peer.py" "$ROOT/bench/torch_peer_gpt2.py" "$P/"

echo "webgpu: package files + dist/linux-x64/dawn.node"
W="$ROOT/node_modules/webgpu"
cp "$W/package.json" "$W/index.js" "$W/LICENSE.md" "$P/node_modules/webgpu/"
cp "$W/dist/linux-x64/dawn.node" "$P/node_modules/webgpu/dist/linux-x64/"

echo "lib: $VULKAN -> libvulkan.so.1"
cp "$VULKAN" "$P/lib/libvulkan.so.1"

echo "glibc fallback (used only if the bundled node cannot start with the host's libraries)"
for f in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 libstdc++.so.6 libgcc_s.so.1; do
  cp -L "$MULTIARCH/$f" "$P/glibc/$f"
done

{
  echo "lora-lab GPU bundle"
  echo "packed: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
  echo "node: $("$NODE_BIN" --version)"
  echo "webgpu package: $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$W/package.json" | head -1)"
  echo "vulkan loader: $(basename "$VULKAN")"
  echo "glibc: $(ldd --version | head -1)"
  (cd "$P" && find . -type f | sort | while read -r f; do printf '%10d  %s\n' "$(stat -c %s "$f")" "$f"; done)
} > "$P/MANIFEST.txt"

rm -rf "$DEST"
mkdir -p "$DEST"
echo "compressing (gzip: every Linux has it)"
tar -C "$STAGE" -cf - payload | gzip -9 > "$DEST/payload.tar.gz"
cp "$ROOT/scripts/gpu-check.sh" "$DEST/gpu-check.sh"
chmod 755 "$DEST/gpu-check.sh"
cp "$P/MANIFEST.txt" "$DEST/MANIFEST.txt"
cat > "$DEST/README.txt" <<'EOF'
lora-lab GPU bundle: run the benchmark, a larger fine-tune and the GPT-2-small LoRA step on webgpu (beside PyTorch
and PEFT on the same GPU when they import) on a Linux x86-64 GPU machine that has a Vulkan driver but no internet,
Node.js or npm; where python3 imports transformers and peft, also check that lora-lab's checkpoints, adapters and
merged folders load there with the same logits.

  bash gpu-check.sh            results go to $OUT if set, else ./gpu-check-out
  bash gpu-check.sh --tiny     a one-minute rehearsal (tiny sizes), e.g. on a machine without a GPU (lavapipe)

Made by scripts/pack-gpu-bundle.sh; MANIFEST.txt lists what is inside payload.tar.gz.
EOF

SIZE=$(du -sb "$DEST" | cut -f1)
echo "wrote $DEST: $((SIZE / 1024 / 1024)) MiB (limit $LIMIT_MIB MiB)"
[ "$SIZE" -le $((LIMIT_MIB * 1024 * 1024)) ] || die "bundle is $((SIZE / 1024 / 1024)) MiB, over $LIMIT_MIB MiB"
