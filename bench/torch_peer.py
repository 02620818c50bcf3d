#!/usr/bin/env python3
"""The PyTorch peer of lora-lab's training-step benchmark (bench/lib/training.ts), written from the architecture's
definition: the same pre-LayerNorm GPT (learned positions, causal self-attention, tanh-GELU MLP, lm_head without a
bias; Radford et al. 2019, nanoGPT), the same batch shape, LoRA on the same targets (Hu et al. 2021: y = x·Wᵀ + b +
(α/r)·(x·Aᵀ)·Bᵀ, A [r, in], B [out, r], base frozen), and the same step: loss → backward → clip the global gradient
norm to 1 → Adam. Full and LoRA steps are interleaved round by round, as lora-lab's are. Prints one JSON object.

  /usr/bin/python3 bench/torch_peer.py --d-model 128 --layers 4 --heads 4 --d-ff 512 --ctx 64 --batch 32 \\
      --vocab 31 --r 8 --alpha 16 --targets q_proj,v_proj --threads 1 --reps 5
"""
import argparse
import json
import math
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


class LoraLinear(nn.Module):
    """A frozen nn.Linear plus the LoRA branch: base(x) + scaling·(x·Aᵀ)·Bᵀ (PEFT's init: A Kaiming-uniform, B = 0)."""

    def __init__(self, base: nn.Linear, r: int, alpha: float):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))  # [r, in]
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))  # [out, r]
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scaling


class Block(nn.Module):
    def __init__(self, d: int, h: int, d_ff: int):
        super().__init__()
        self.h = h
        self.input_layernorm = nn.LayerNorm(d, eps=1e-5)
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(d, d) for _ in range(4))
        self.post_attention_layernorm = nn.LayerNorm(d, eps=1e-5)
        self.up_proj = nn.Linear(d, d_ff)
        self.down_proj = nn.Linear(d_ff, d)

    def forward(self, x, mask):
        B, T, d = x.shape
        heads = lambda y: y.view(B, T, self.h, d // self.h).transpose(1, 2)  # [B, h, T, d_h]
        a = self.input_layernorm(x)
        q, k, v = heads(self.q_proj(a)), heads(self.k_proj(a)), heads(self.v_proj(a))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.h) + mask, dim=-1)  # [B, h, T, T]
        x = x + self.o_proj((att @ v).transpose(1, 2).reshape(B, T, d))
        m = self.post_attention_layernorm(x)
        return x + self.down_proj(F.gelu(self.up_proj(m), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, vocab: int, ctx: int, d: int, layers: int, h: int, d_ff: int):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, d)
        self.embed_positions = nn.Embedding(ctx, d)
        self.layers = nn.ModuleList(Block(d, h, d_ff) for _ in range(layers))
        self.norm = nn.LayerNorm(d, eps=1e-5)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.register_buffer("mask", torch.triu(torch.full((ctx, ctx), -1e9), diagonal=1))

    def forward(self, tokens):
        T = tokens.shape[1]
        x = self.embed_tokens(tokens) + self.embed_positions.weight[:T]
        for block in self.layers:
            x = block(x, self.mask[:T, :T])
        return self.lm_head(self.norm(x))


def inject_lora(model: Gpt, targets, r: int, alpha: float):
    for p in model.parameters():
        p.requires_grad_(False)
    for block in model.layers:
        for name in targets:
            setattr(block, name, LoraLinear(getattr(block, name), r, alpha))
    return [p for p in model.parameters() if p.requires_grad]


def timed_step(model, params, opt, tokens, targets):
    t0 = time.perf_counter()
    logits = model(tokens)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    return (time.perf_counter() - t0) * 1000, loss.item()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, default in [("--d-model", 128), ("--layers", 4), ("--heads", 4), ("--d-ff", 512), ("--ctx", 64), ("--batch", 32),
                          ("--vocab", 31), ("--r", 8), ("--threads", 1), ("--reps", 5), ("--seed", 0)]:
        ap.add_argument(flag, type=int, default=default)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--targets", default="q_proj,v_proj", help="comma-separated block module names")
    ap.add_argument("--budget-s", type=float, default=60.0, help="fewer rounds (at least 2) when a round is slow")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    targets = [t for t in a.targets.split(",") if t]
    full = Gpt(a.vocab, a.ctx, a.d_model, a.layers, a.heads, a.d_ff)
    lora = Gpt(a.vocab, a.ctx, a.d_model, a.layers, a.heads, a.d_ff)
    lora.load_state_dict(full.state_dict())
    full_params = list(full.parameters())
    lora_params = inject_lora(lora, targets, a.r, a.alpha)
    opt_full = torch.optim.Adam(full_params, lr=1e-3)
    opt_lora = torch.optim.Adam(lora_params, lr=1e-3)
    tokens = torch.randint(0, a.vocab, (a.batch, a.ctx))
    next_tokens = torch.randint(0, a.vocab, (a.batch, a.ctx))

    t0 = time.perf_counter()  # one untimed round (allocator, kernels), which also sizes the budget
    timed_step(full, full_params, opt_full, tokens, next_tokens)
    timed_step(lora, lora_params, opt_lora, tokens, next_tokens)
    round_s = time.perf_counter() - t0
    reps = max(2, min(a.reps, int(a.budget_s / max(round_s, 1e-9))))
    times = {"full": [], "lora": []}
    for _ in range(reps):
        times["full"].append(timed_step(full, full_params, opt_full, tokens, next_tokens)[0])
        times["lora"].append(timed_step(lora, lora_params, opt_lora, tokens, next_tokens)[0])
    tokens_per_step = a.batch * a.ctx
    kind = lambda k, n: {"ms": statistics.median(times[k]), "runs": times[k], "tokensPerSec": tokens_per_step / (statistics.median(times[k]) / 1000),
                         "trainableParams": n}
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(), "reps": reps,
        "shape": {"dModel": a.d_model, "layers": a.layers, "heads": a.heads, "dFf": a.d_ff, "ctx": a.ctx, "batch": a.batch, "vocab": a.vocab},
        "lora_config": {"r": a.r, "lora_alpha": a.alpha, "target_modules": targets},
        "full": kind("full", sum(p.numel() for p in full_params)),
        "lora": kind("lora", sum(p.numel() for p in lora_params)),
        "loraOverFull": statistics.median(l / f for l, f in zip(times["lora"], times["full"])),
    }))


if __name__ == "__main__":
    main()
