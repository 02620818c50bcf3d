#!/usr/bin/env python3
"""The PyTorch peer of `npm run bench -- --hf`'s LoRA training step: GPT-2 small's shape (Radford et al. 2019; 124 M
parameters: d 768, 12 layers, 12 heads, 50,257 tokens, 1,024 positions, random weights), written from the
architecture's definition as transformers' modeling_gpt2.py computes it (Conv1D y = x W + b with W [in, out], fused
c_attn, learned positions, pre-LayerNorm, tanh-GELU, lm_head tied to wte), with LoRA r = 8 on c_attn by hand (Hu et al.
2021, https://arxiv.org/abs/2106.09685: y = x W + b + scaling (x A^T) B^T, A [r, in], B [out, r], PEFT's
fan_in_fan_out). The step is lora-lab's: next-token cross-entropy over every position of a batch of 4 x 128 tokens,
backward, clip the global gradient norm to 1, Adam. With --peft (where transformers and peft import) it also times
transformers' GPT2LMHeadModel with PEFT's LoRA on the same shape. Prints one JSON object.

  /usr/bin/python3 bench/torch_peer_gpt2.py --batch 4 --ctx 128 --r 8 --alpha 16 --threads 1 --reps 3 [--device cuda] [--peft]
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the caller reports this and carries on without the peer
    print(json.dumps({"error": f"torch is not importable: {e}"}))
    sys.exit(0)


class Conv1D(nn.Module):
    """transformers' Conv1D: weight [in, out], y = x W + b."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * 0.02)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


class LoraConv1D(nn.Module):
    """A frozen Conv1D plus LoRA: base(x) + scaling (x A^T) B^T (A Kaiming-uniform, B = 0 as PEFT starts them)."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        n_in, n_out = base.weight.shape
        self.lora_A = nn.Parameter(torch.empty(r, n_in))
        self.lora_B = nn.Parameter(torch.zeros(n_out, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scaling


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln_1, self.ln_2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
        self.c_attn, self.attn_proj = Conv1D(d, 3 * d), Conv1D(d, d)
        self.c_fc, self.mlp_proj = Conv1D(d, 4 * d), Conv1D(4 * d, d)

    def forward(self, x, mask):
        B, T, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (t.view(B, T, self.h, d // self.h).transpose(1, 2) for t in (q, k, v))  # [B, h, T, d_h]
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.h) + mask, dim=-1)
        x = x + self.attn_proj((att @ v).transpose(1, 2).reshape(B, T, d))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt2(nn.Module):
    def __init__(self, vocab, positions, d, layers, h):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(positions, d)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)
        self.h = nn.ModuleList(Block(d, h) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)

    def forward(self, tokens):
        T = tokens.shape[1]
        mask = torch.triu(torch.full((T, T), float("-inf"), device=tokens.device), diagonal=1)
        x = self.wte(tokens) + self.wpe.weight[:T]
        for block in self.h:
            x = block(x, mask)
        return self.ln_f(x) @ self.wte.weight.t()  # lm_head tied to wte


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(step, reps, device):
    step()  # one untimed step: allocator, kernels
    runs = []
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        runs.append((time.perf_counter() - t0) * 1000)
    return runs


def summary(runs, tokens, trainable, total, device):
    ms = statistics.median(runs)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"ms": ms, "runs": runs, "tokensPerSec": tokens / (ms / 1000), "trainableParams": trainable, "allParams": total,
            "peakBytes": peak, "peakKind": "torch.cuda.max_memory_allocated" if device.type == "cuda" else "process peak RSS"}


def hand_written(a, device, tokens, targets):
    model = Gpt2(a.vocab, a.positions, a.n_embd, a.layers, a.heads).to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    for block in model.h:
        block.c_attn = LoraConv1D(block.c_attn, a.r, a.alpha).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        logits = model(tokens)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    total = sum(p.numel() for p in model.parameters())
    return summary(time_steps(step, a.reps, device), a.batch * a.ctx, sum(p.numel() for p in params), total, device)


def with_peft(a, device, tokens):
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
        from peft import LoraConfig, get_peft_model
    except ImportError as e:
        return {"unavailable": f"transformers/peft not importable: {e}"}
    cfg = GPT2Config(vocab_size=a.vocab, n_positions=a.positions, n_embd=a.n_embd, n_layer=a.layers, n_head=a.heads)
    model = GPT2LMHeadModel(cfg).to(device)
    model = get_peft_model(model, LoraConfig(r=a.r, lora_alpha=a.alpha, target_modules=["c_attn"], fan_in_fan_out=True,
                                             task_type="CAUSAL_LM"))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        loss = model(input_ids=tokens, labels=tokens).loss  # transformers shifts the labels itself
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    total = sum(p.numel() for p in model.parameters())
    return summary(time_steps(step, a.reps, device), a.batch * a.ctx, sum(p.numel() for p in params), total, device)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, default in [("--n-embd", 768), ("--layers", 12), ("--heads", 12), ("--vocab", 50257), ("--positions", 1024),
                          ("--ctx", 128), ("--batch", 4), ("--r", 8), ("--threads", 1), ("--reps", 3), ("--seed", 0)]:
        ap.add_argument(flag, type=int, default=default)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--peft", action="store_true", help="also time transformers + PEFT on the same shape")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    device = torch.device(a.device)
    tokens = torch.randint(0, a.vocab, (a.batch, a.ctx), device=device)
    targets = torch.randint(0, a.vocab, (a.batch, a.ctx), device=device)
    out = {
        "torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(), "reps": a.reps,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "shape": {"nEmbd": a.n_embd, "layers": a.layers, "heads": a.heads, "vocab": a.vocab, "ctx": a.ctx, "batch": a.batch},
        "lora_config": {"r": a.r, "lora_alpha": a.alpha, "target_modules": ["c_attn"]},
        "lora": hand_written(a, device, tokens, targets),
    }
    if a.peft:
        out["peft"] = with_peft(a, device, tokens)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
