#!/usr/bin/env python3
"""Does what lora-lab writes load in transformers + PEFT, with the same outputs, and the other way round?

The Python half of the interop check (the TypeScript half is scripts/interop-export.ts; scripts/gpu-check.sh runs
both where `python3 -c 'import transformers, peft'` works). For each case in DIR/interop.json it loads the model
folder with transformers (AutoModelForCausalLM.from_pretrained, float32, eager attention, on the CPU), the adapter
with PEFT (PeftModel.from_pretrained(model, adapter_dir)), checks that PEFT holds exactly the adapter file's keys
and values (get_peft_model_state_dict), and compares the logits with lora-lab's. It compares the tokenizers' ids
(AutoTokenizer). Then it has PEFT itself make and save an adapter with its default targets for each tiny model
(LoraConfig(task_type="CAUSAL_LM") without target_modules) and checks that lora-lab's saved adapter for the same
model carries the same keys and the same adapter_config.json fields; those PEFT-saved adapters and their logits go
to DIR/peft-made.json, which `interop-export.ts peft-made DIR` then loads into lora-lab.

  /usr/bin/env python3 scripts/interop-check.py DIR        exit 0: everything agrees; 1: a mismatch (listed)
"""
import json
import os
import sys

try:
    import torch
    import transformers
    import peft
    from peft import LoraConfig, PeftModel, get_peft_model, get_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
except ImportError as e:
    print(f"interop-check: needs torch, transformers, peft and safetensors: {e}")
    sys.exit(2)

torch.manual_seed(0)
# Fields whose values must agree between lora-lab's adapter_config.json and PEFT's for the same settings.
CONFIG_FIELDS = ["peft_type", "task_type", "r", "lora_alpha", "bias", "fan_in_fan_out", "use_rslora", "use_dora",
                 "lora_dropout", "inference_mode", "modules_to_save", "layers_to_transform", "layers_pattern"]


def load_model(d):
    kwargs = {"attn_implementation": "eager"}
    try:
        m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, **kwargs)
    except TypeError:  # transformers before `dtype` was the argument's name
        m = AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32, **kwargs)
    return m.float().eval()


def forward(model, inputs):
    with torch.no_grad():
        return model(torch.tensor(inputs, dtype=torch.long)).logits.float()


def check_state(model, adapter_dir):
    """PEFT's view of the loaded adapter equals the file: same keys, same values."""
    file = load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
    held = get_peft_model_state_dict(model)
    missing, extra = sorted(set(file) - set(held)), sorted(set(held) - set(file))
    if missing or extra:
        return f"keys differ: in the file only {missing[:3]}, in PEFT only {extra[:3]}"
    worst = max(float((held[k].float().cpu() - file[k].float()).abs().max()) for k in file)
    return None if worst == 0 else f"values differ after loading (max {worst:.2e})"


def main(root):
    with open(os.path.join(root, "interop.json")) as f:
        spec = json.load(f)
    tol = spec["tolerance"]
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}; "
          f"lora-lab logits from its {spec['backend']} backend; tolerance {tol}")
    failures = []

    def report(ok, line):
        print(("ok    " if ok else "FAIL  ") + line)
        if not ok:
            failures.append(line)

    for c in spec["cases"]:
        try:
            model = load_model(os.path.join(root, c["model"]))
            note = ""
            if c["adapter"]:
                adapter_dir = os.path.join(root, c["adapter"])
                model = PeftModel.from_pretrained(model, adapter_dir).eval()
                problem = check_state(model, adapter_dir)
                if problem:
                    report(False, f"{c['name']}: PEFT loaded the adapter but {problem}")
                    continue
                note = ", PEFT holds the file's keys and values"
            logits = forward(model, c["inputs"])[:, c["positions"], :]
            ours = torch.tensor(c["logits"], dtype=torch.float32)
            if logits.shape != ours.shape:
                report(False, f"{c['name']}: logits {tuple(logits.shape)} vs lora-lab's {tuple(ours.shape)}")
                continue
            err = float((logits - ours).abs().max())
            report(err <= tol, f"{c['name']}: {c['what']}: max |transformers - lora-lab| {err:.2e}{note}")
        except Exception as e:  # a folder transformers or PEFT cannot load is a finding, not a crash
            report(False, f"{c['name']}: {type(e).__name__}: {str(e).splitlines()[0][:300]}")

    for t in spec["tokenizers"]:
        try:
            ids = AutoTokenizer.from_pretrained(os.path.join(root, t["model"])).encode(t["text"])
            report(ids == t["ids"], f"{t['model']} tokenizer: {t['text']!r} -> {ids[:12]}{'' if ids == t['ids'] else ' vs lora-lab ' + str(t['ids'][:12])}")
        except Exception as e:
            report(False, f"{t['model']} tokenizer: {type(e).__name__}: {str(e).splitlines()[0][:300]}")

    # PEFT's own save for PEFT's defaults, beside lora-lab's.
    made = {"cases": []}
    for p in spec["peftDefaults"]:
        name = f"{p['model']}/peft-saved"
        try:
            base = load_model(os.path.join(root, p["model"]))
            cfg = LoraConfig(r=p["r"], lora_alpha=p["lora_alpha"], init_lora_weights=False, task_type="CAUSAL_LM")
            pm = get_peft_model(base, cfg)
            out = os.path.join("peft-made", p["model"])
            pm.save_pretrained(os.path.join(root, out))
            theirs = load_file(os.path.join(root, out, "adapter_model.safetensors"))
            ours = load_file(os.path.join(root, p["adapter"], "adapter_model.safetensors"))
            with open(os.path.join(root, out, "adapter_config.json")) as f:
                their_cfg = json.load(f)
            with open(os.path.join(root, p["adapter"], "adapter_config.json")) as f:
                our_cfg = json.load(f)
            shapes = {k: tuple(v.shape) for k, v in theirs.items()}
            same_keys = shapes == {k: tuple(v.shape) for k, v in ours.items()}
            diffs = [k for k in CONFIG_FIELDS if their_cfg.get(k) != our_cfg.get(k)]
            if sorted(their_cfg.get("target_modules") or []) != sorted(our_cfg.get("target_modules") or []):
                diffs.append("target_modules")
            only_peft = sorted(set(their_cfg) - set(our_cfg))
            detail = (f"same {len(shapes)} keys and shapes" if same_keys else f"keys differ: PEFT {sorted(shapes)[:2]}..., lora-lab {sorted(ours)[:2]}...")
            detail += "; config agrees" if not diffs else f"; config differs in {diffs} (PEFT {[their_cfg.get(k) for k in diffs]}, lora-lab {[our_cfg.get(k) for k in diffs]})"
            if only_peft:
                detail += f"; fields only PEFT writes (defaults on load): {only_peft}"
            report(same_keys and not diffs, f"{name}: PEFT's save of its default LoRA vs lora-lab's: {detail}")
            inputs = [[1, 5, 9, 3, 7, 2, 8, 4], [6, 2, 9, 1, 3, 5, 7, 0]]
            made["cases"].append({"name": name, "model": p["model"], "adapter": out, "inputs": inputs,
                                  "logits": forward(pm.eval(), inputs).tolist()})
        except Exception as e:
            report(False, f"{name}: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
    with open(os.path.join(root, "peft-made.json"), "w") as f:
        json.dump(made, f)

    total = len(spec["cases"]) + len(spec["tokenizers"]) + len(spec["peftDefaults"])
    print(f"{total - len(failures)} of {total} checks agree" + ("" if not failures else f"; {len(failures)} failed"))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
