"""PyTorch reference logits for the tiny Hugging Face checkpoints of test/fixtures/hf (float64 throughout), without
and with each fixture's LoRA adapter.

Written from the architectures' definitions as transformers implements them, without transformers itself:
GPT-2 (modeling_gpt2.py: Conv1D y = x W + b with W [in, out], fused c_attn, learned positions, pre-LayerNorm,
gelu_new, tied lm_head, scores / sqrt(d_h) and optionally / (layer + 1)) and Llama / Qwen2 (modeling_llama.py:
RMSNorm, RoPE with rotate_half and the llama3 frequency scaling of modeling_rope_utils.py, grouped-query
attention by repeat_kv, SwiGLU MLP, optional q/k/v biases, tied or untied lm_head). safetensors is parsed with
numpy (8-byte little-endian header length, JSON header, raw little-endian data).

A LoRA adapter in PEFT's layout (Hu et al. 2021, https://arxiv.org/abs/2106.09685; peft/tuners/lora/layer.py) is
applied by merging it: W' = W + scaling * B @ A with scaling = lora_alpha / r (lora_alpha / sqrt(r) with use_rslora),
A = <module>.lora_A.weight [r, in], B = <module>.lora_B.weight [out, r]; torch.nn.Linear stores W [out, in], GPT-2's
Conv1D stores W [in, out] (PEFT's fan_in_fan_out), so there the update is added transposed.

Regenerate the golden file:
  npx tsx test/fixtures/hf/make-hf-fixtures.ts /tmp/hf-fixtures
  /usr/bin/python3 scripts/hf_reference.py /tmp/hf-fixtures > test/fixtures/hf/golden-logits.json
"""
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

NP_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "u1"}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        raw = data[base + begin : base + end]
        if e["dtype"] == "BF16":
            # bfloat16 is the upper half of a float32
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=NP_DTYPES[e["dtype"]])
        out[name] = torch.from_numpy(arr.astype(np.float64).reshape(e["shape"]))
    return out


def read_weights(d):
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for name in files:
        w.update(read_safetensors(os.path.join(d, name)))
    return w


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def causal_softmax(scores):
    t = scores.shape[-1]
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def gpt2_logits(cfg, w, ids):
    w = {k if k.startswith("transformer.") or k.startswith("lm_head.") else "transformer." + k: v for k, v in w.items()}
    d, h, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    dh = d // h
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    B, T = ids.shape
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][torch.arange(T)][None]
    for i in range(L):
        p = f"transformer.h.{i}."
        a = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]  # Conv1D: weight is [in, out]
        q, k, v = qkv.split(d, dim=2)
        q, k, v = (t.view(B, T, h, dh).permute(0, 2, 1, 3) for t in (q, k, v))
        s = q @ k.transpose(-1, -2)
        if cfg.get("scale_attn_weights", True):
            s = s / math.sqrt(dh)
        if cfg.get("scale_attn_by_inverse_layer_idx", False):
            s = s / float(i + 1)
        y = (causal_softmax(s) @ v).permute(0, 2, 1, 3).reshape(B, T, d)
        x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        u = gelu_new(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + u @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    head = w["transformer.wte.weight"] if cfg.get("tie_word_embeddings", True) else w["lm_head.weight"]
    return x @ head.T


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def inv_freq(cfg, dim):
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, dim, 2).double() / dim))
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "linear":
        inv = inv / rs["factor"]
    elif kind == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wl, high_wl = old / low, old / high
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wl, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wl) & ~(wavelen > low_wl)
        inv = torch.where(medium, smoothed, scaled)
    return inv


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def llama_logits(cfg, w, ids):
    qwen = cfg["model_type"] == "qwen2"
    d, h, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    hkv = cfg.get("num_key_value_heads") or h
    dh = cfg.get("head_dim") or d // h
    eps = cfg.get("rms_norm_eps", 1e-6)
    qkv_bias = True if qwen else cfg.get("attention_bias", False)
    o_bias = False if qwen else cfg.get("attention_bias", False)
    mlp_bias = cfg.get("mlp_bias", False)
    B, T = ids.shape

    def lin(x, name, bias):  # torch.nn.Linear: weight is [out, in]
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if bias else y

    freqs = torch.arange(T).double()[:, None] * inv_freq(cfg, dh)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    x = w["model.embed_tokens.weight"][ids]
    for i in range(L):
        p = f"model.layers.{i}."
        a = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = lin(a, p + "self_attn.q_proj", qkv_bias).view(B, T, h, dh).transpose(1, 2)
        k = lin(a, p + "self_attn.k_proj", qkv_bias).view(B, T, hkv, dh).transpose(1, 2)
        v = lin(a, p + "self_attn.v_proj", qkv_bias).view(B, T, hkv, dh).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(h // hkv, dim=1)  # repeat_kv: query head j uses kv head j // (h / hkv)
        v = v.repeat_interleave(h // hkv, dim=1)
        att = causal_softmax(q @ k.transpose(-1, -2) / math.sqrt(dh))
        y = (att @ v).transpose(1, 2).reshape(B, T, h * dh)
        x = x + lin(y, p + "self_attn.o_proj", o_bias)
        m = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = lin(m, p + "mlp.gate_proj", mlp_bias)
        x = x + lin(torch.nn.functional.silu(gate) * lin(m, p + "mlp.up_proj", mlp_bias), p + "mlp.down_proj", mlp_bias)
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def gpt2_keys(w):
    """GPT2LMHeadModel's state_dict names: files may lack the `transformer.` prefix."""
    return {k if k.startswith("transformer.") or k.startswith("lm_head.") else "transformer." + k: v for k, v in w.items()}


def apply_adapter(cfg, w, adapter_dir):
    """The weights with the adapter in `adapter_dir` merged in (see the module docstring)."""
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        ac = json.load(f)
    assert ac["peft_type"] == "LORA" and ac.get("bias", "none") == "none" and not ac.get("use_dora", False)
    r, alpha = ac["r"], ac["lora_alpha"]
    scaling = alpha / math.sqrt(r) if ac.get("use_rslora", False) else alpha / r
    lora = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    prefix = "base_model.model."
    modules = sorted({k[len(prefix) :].rsplit(".lora_", 1)[0] for k in lora})
    w = dict(w)
    for m in modules:
        A, B = lora[f"{prefix}{m}.lora_A.weight"], lora[f"{prefix}{m}.lora_B.weight"]
        assert A.shape[0] == r and B.shape[1] == r
        delta = scaling * (B @ A)  # [out, in]
        W = w[m + ".weight"]
        conv1d = cfg["model_type"] == "gpt2" and m != "lm_head"  # GPT-2's linear modules but lm_head are Conv1D
        w[m + ".weight"] = W + (delta.T if conv1d else delta)
        assert w[m + ".weight"].shape == W.shape
    return w, modules


def logits_of(cfg, w, ids):
    return gpt2_logits(cfg, w, ids) if cfg["model_type"] == "gpt2" else llama_logits(cfg, w, ids)


def rounded(t):
    return [[[float("%.7g" % v) for v in row] for row in seq] for seq in t.tolist()]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(root):
    with open(os.path.join(root, "fixtures.json")) as f:
        fixtures = json.load(f)
    out = {
        "about": "logits of test/fixtures/hf fixtures, base and with their LoRA adapters, from "
        "scripts/hf_reference.py (float64 PyTorch); see that file to regenerate",
        "torch": torch.__version__,
        "fixtures": {},
    }
    for fx in fixtures:
        d = os.path.join(root, fx["name"])
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        ids = torch.tensor(fx["inputs"], dtype=torch.long)
        w = read_weights(d)
        if cfg["model_type"] == "gpt2":
            w = gpt2_keys(w)
        files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))
        entry = {
            "sha256": {f: sha256(os.path.join(d, f)) for f in files},
            "inputs": fx["inputs"],
            "logits": rounded(logits_of(cfg, w, ids)),
        }
        if fx.get("adapter"):
            ad = os.path.join(root, fx["adapter"])
            merged, modules = apply_adapter(cfg, w, ad)
            entry["adapter"] = {
                "dir": fx["adapter"],
                "sha256": {f: sha256(os.path.join(ad, f)) for f in ("adapter_config.json", "adapter_model.safetensors")},
                "modules": modules,
                "logits": rounded(logits_of(cfg, merged, ids)),
            }
        out["fixtures"][fx["name"]] = entry
    json.dump(out, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
