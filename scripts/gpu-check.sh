#!/usr/bin/env bash
# The one-command GPU check: on a Linux x86-64 machine with a GPU and a Vulkan driver, but no internet, Node.js or
# npm, runs the lora-lab benchmark, a larger-preset fine-tune and the GPT-2-small LoRA training step on webgpu (beside
# PyTorch, and transformers + PEFT, on the same GPU when python3 has them) from the bundle that
# scripts/pack-gpu-bundle.sh made (gpu-bundle/); where python3 imports transformers and peft it also runs the
# interop check (scripts/interop-export.ts, then scripts/interop-check.py); everything goes to $OUT, else ./gpu-check-out.
#   bash scripts/gpu-check.sh [--tiny]     (--tiny: a short rehearsal with tiny sizes, e.g. on lavapipe)
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$PWD/gpu-check-out}
TINY=0
[ "${1:-}" = "--tiny" ] && TINY=1
mkdir -p "$OUT"
LOG="$OUT/gpu-check.log"
: > "$LOG"
say() { echo "$*" | tee -a "$LOG"; }
die() { say "gpu-check: $*"; exit 1; }

# ---- the bundle: next to this script (inside gpu-bundle/) or at <repo>/gpu-bundle -------------------------
BUNDLE=${GPU_BUNDLE:-}
for d in "$HERE" "$HERE/../gpu-bundle" "$PWD/gpu-bundle"; do
  if [ -z "$BUNDLE" ] && [ -f "$d/payload.tar.gz" ]; then BUNDLE=$(cd "$d" && pwd); fi
done
[ -n "$BUNDLE" ] || die "no gpu-bundle/payload.tar.gz found next to $HERE or in $PWD: make it with scripts/pack-gpu-bundle.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lora-lab-gpu.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
say "bundle: $BUNDLE  ->  unpacking into $WORK"
gzip -dc "$BUNDLE/payload.tar.gz" | tar -C "$WORK" -xf - || die "could not unpack $BUNDLE/payload.tar.gz"
P="$WORK/payload"

# ---- Vulkan: the bundled loader, and the GPU driver's ICD wherever the host keeps it -----------------------
LIBS="$P/lib"
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu/nvidia /usr/lib64/nvidia; do
  [ -d "$d" ] && LIBS="$LIBS:$d"
done
export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
ICD_DIRS="/usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d /usr/local/nvidia/vulkan/icd.d /usr/local/nvidia/icd.d"
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  NV_ICD=$(for d in $ICD_DIRS; do ls "$d"/nvidia*.json 2>/dev/null; done | head -1)
  if [ -z "$NV_ICD" ] && command -v nvidia-smi >/dev/null 2>&1; then
    # Some containers mount the driver's Vulkan library but not its ICD file: write the standard one.
    NV_LIB=$( (ldconfig -p 2>/dev/null | grep -o '/[^ ]*libGLX_nvidia.so.0' ; ls /usr/local/nvidia/lib64/libGLX_nvidia.so.0 2>/dev/null) | head -1)
    if [ -n "$NV_LIB" ]; then
      NV_ICD="$WORK/nvidia_icd.json"
      printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$NV_LIB" > "$NV_ICD"
      say "vulkan: wrote an ICD file for $NV_LIB"
    else
      say "vulkan: nvidia-smi works but no libGLX_nvidia.so.0 (the driver's Vulkan part) is present: a container"
      say "        needs NVIDIA_DRIVER_CAPABILITIES to include 'graphics' (or 'all'); webgpu will find no GPU"
    fi
  fi
  if [ -n "$NV_ICD" ]; then
    export VK_DRIVER_FILES="$NV_ICD" VK_ICD_FILENAMES="$NV_ICD"
    say "vulkan: ICD $NV_ICD"
  else
    say "vulkan: no NVIDIA ICD found in $ICD_DIRS; using the loader's default search"
  fi
fi

# ---- Node: the bundled binary with the host's libc, else with the bundled one ---------------------------
NODE=("$P/bin/node")
if [ "${GPU_CHECK_BUNDLED_GLIBC:-0}" = 1 ] || ! "${NODE[@]}" --version >/dev/null 2>&1; then
  NODE=("$P/glibc/ld-linux-x86-64.so.2" --library-path "$P/glibc:$LIBS" "$P/bin/node")
  "${NODE[@]}" --version >/dev/null 2>&1 || die "the bundled node starts neither with the host's libraries nor the bundled ones"
  say "node: running with the bundled glibc (host libc too old, or GPU_CHECK_BUNDLED_GLIBC=1)"
fi
say "node: $("${NODE[@]}" --version) ($P/bin/node)"

# ---- what machine this is --------------------------------------------------------------------------------
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "uname: $(uname -a)"
  [ -f /etc/os-release ] && grep PRETTY_NAME /etc/os-release
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-) x $(grep -c ^processor /proc/cpuinfo)"
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  for d in $ICD_DIRS; do ls -la "$d" 2>/dev/null; done
  cat "$P/MANIFEST.txt"
} > "$OUT/machine.txt" 2>&1

# ---- the runs: each under a time limit so partial results still land in $OUT ----------------------------
cd "$P/app" || die "bundle has no app/"
if [ "$TINY" = 1 ]; then
  BENCH=(--quick --backends webgpu,wasm,cpu-stock --preset nano --batch 4 --sizes 64,128 --svd-sizes 64)
  FT=(--preset nano --steps 3 --batch 4)
  LIMIT=300
else
  BENCH=(--backends webgpu,wasm,wasm-stock,cpu-stock --sizes 256,512,1024,2048,4096 --svd-sizes 256,512)
  FT=(--preset small --steps 40 --batch 32)
  LIMIT=420
fi
status=0
say "bench: node bench.mjs ${BENCH[*]}"
timeout "$LIMIT" "${NODE[@]}" bench.mjs "${BENCH[@]}" --out "$OUT/bench.json" > "$OUT/bench.txt" 2>&1 || status=$?
say "  exit $status; $(grep -m1 '^webgpu adapter' "$OUT/bench.txt" || echo 'no webgpu adapter line')"
ft_status=0
say "fine-tune: node finetune.mjs ${FT[*]}"
timeout "$LIMIT" "${NODE[@]}" finetune.mjs --backend webgpu "${FT[@]}" --out "$OUT/finetune.json" > "$OUT/finetune.txt" 2>&1 || ft_status=$?
say "  exit $ft_status"
tail -n 4 "$OUT/finetune.txt" | tee -a "$LOG"

# ---- GPT-2 small: the LoRA step on webgpu, and the PyTorch / PEFT peer on the same GPU -------------------------
PY=${LORA_LAB_PYTHON:-python3}
TORCH_DEVICE=cpu
"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1 && TORCH_DEVICE=cuda
HF=(--hf --backend webgpu --torch-device "$TORCH_DEVICE")
[ "$TINY" = 1 ] && HF+=(--quick)
hf_status=0
say "GPT-2 small: node bench.mjs ${HF[*]}"
LORA_LAB_PYTHON="$PY" timeout "$LIMIT" "${NODE[@]}" bench.mjs "${HF[@]}" --out "$OUT/hf.json" > "$OUT/hf.txt" 2>&1 || hf_status=$?
say "  exit $hf_status"
sed -n '/^LoRA training step/,/^$/p' "$OUT/hf.txt" | tee -a "$LOG"

# ---- interop with transformers + PEFT, where python3 has them --------------------------------------------------
interop_status=0
if "$PY" -c 'import transformers, peft' >/dev/null 2>&1; then
  say "interop: lora-lab's tiny checkpoints, adapters and merged folders in transformers + PEFT ($PY)"
  {
    timeout "$LIMIT" "${NODE[@]}" interop/interop-export.mjs export "$OUT/interop" &&
      timeout "$LIMIT" "$PY" interop-check.py "$OUT/interop" &&
      timeout "$LIMIT" "${NODE[@]}" interop/interop-export.mjs peft-made "$OUT/interop"
  } > "$OUT/interop.txt" 2>&1 || interop_status=$?
  say "  exit $interop_status"
  grep -E '^(ok|FAIL) |checks agree|PEFT-saved adapters' "$OUT/interop.txt" | tee -a "$LOG"
else
  say "interop: skipped ($PY cannot import transformers and peft)"
fi
[ "$status" = 0 ] && [ "$ft_status" = 0 ] && [ "$hf_status" = 0 ] && [ "$interop_status" = 0 ] ||
  die "a run failed (bench exit $status, fine-tune $ft_status, GPT-2 small $hf_status, interop $interop_status): see $OUT/*.txt"
say "done: results in $OUT (bench, finetune, hf, interop .txt/json; machine.txt)"
