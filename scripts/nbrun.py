"""Executes Jupyter notebooks through the Jupyter messaging protocol (jupyter_client) and fails loudly.

Why not nbconvert: tslab answers the cells after a failure with a non-standard "abort" status that nbconvert
takes for success, reports a failing cell without a traceback, and prints errors raised after a cell returned
(timers, un-awaited promises) to stderr as "UncaughtException". This runner reads every execute_reply's
status, requires every non-empty code cell to run, and fails on any unexpected stderr.

Usage: python3 nbrun.py (check|execute) [--kernel NAME] [--timeout S] [--report FILE]
                         [--param NAME=VALUE ... [--output FILE]] NOTEBOOK...
       python3 nbrun.py info [--kernel NAME]
  check    runs each notebook and reports; the files are not changed
  execute  also writes the outputs into each notebook (atomically), as a reader will see them, with exactly the
           language_info the kernel reports, so that Jupyter opening the file has nothing to change in it
  info     prints the kernel's kernel_info reply (JSON)
Exit code 0 when every notebook passed, 1 when one failed, 2 on bad usage.
"""
import argparse
import json
import os
import queue
import re
import sys
import tempfile
import time

# Lines on stderr that are expected and harmless: Dawn's notes about WebGPU limits on software adapters.
ALLOWED_STDERR = [
    re.compile(r"^Warning: max\w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$"),
]


class CellFailure(Exception):
    pass


def unexpected_stderr(text):
    lines = [l for l in text.splitlines() if l.strip()]
    return [l for l in lines if not any(p.match(l) for p in ALLOWED_STDERR)]


def cell_label(index, source):
    first = next((l for l in source.splitlines() if l.strip()), "").strip()
    return f"cell {index + 1} ({first[:60]!r})"


LET = re.compile(r"^\s*let\s+([A-Za-z_$][\w$]*)", re.M)


def cell_source(cell):
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def parameter_cells(nb):
    """{name: index of the `parameters`-tagged cell that declares it with `let`}, in notebook order."""
    found = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            for name in LET.findall(cell_source(cell)):
                found.setdefault(name, index)
    return found


def parse_params(pairs):
    """["r=8", "targets=[\"q_proj\"]", "task=shift"] -> {"r": 8, "targets": ["q_proj"], "task": "shift"}."""
    params = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_$][\w$]*", name):
            raise ValueError(f"--param {pair!r}: write NAME=VALUE, e.g. --param r=8")
        try:
            params[name] = json.loads(text)
        except json.JSONDecodeError:
            params[name] = text  # a bare word is a string
    return params


def inject_params(nb, params, path):
    """Adds, after each parameters cell, one `injected-parameters` cell assigning the overridden names it declares."""
    import nbformat

    declared = parameter_cells(nb)
    unknown = [n for n in params if n not in declared]
    if unknown:
        names = ", ".join(declared) or "none (no cell is tagged 'parameters')"
        raise ValueError(f"{os.path.basename(path)} has no parameter {', '.join(map(repr, unknown))}; its parameters are: {names}")
    by_cell = {}
    for name, value in params.items():
        by_cell.setdefault(declared[name], []).append(f"{name} = {json.dumps(value)};")
    for index in sorted(by_cell, reverse=True):
        cell = nbformat.v4.new_code_cell("\n".join(by_cell[index]), metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(index + 1, cell)


SLOW_SECONDS = 10
TIMING_LINE = re.compile(r"^\*⏱ takes about .*\*$")


def about(seconds):
    """A timing as a reader would say it: 'about 40 s', 'about 2 min'."""
    if seconds < 90:
        return f"about {max(SLOW_SECONDS, int(5 * round(seconds / 5)))} s"
    return f"about {round(seconds / 60 * 2) / 2:g} min"


def mark_slow_cells(nb):
    """The markdown before each code cell that took over SLOW_SECONDS ends with one line saying how long it took
    in this run (a measurement, rewritten on every execute); faster cells lose the line."""
    cores = os.cpu_count() or 1
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or index == 0 or nb.cells[index - 1].cell_type != "markdown":
            continue
        md = nb.cells[index - 1]
        lines = [l for l in cell_source(md).rstrip("\n").split("\n") if not TIMING_LINE.match(l)]
        while lines and not lines[-1].strip():
            lines.pop()
        seconds = cell.get("metadata", {}).get("lora_lab", {}).get("seconds", 0)
        if seconds > SLOW_SECONDS:
            lines += ["", f"*⏱ takes {about(seconds)} on {cores} core{'s' if cores > 1 else ''}*"]
        md.source = "\n".join(lines)


def count_checks(nb):
    """check() prints one "✓ ..." line per claim that held."""
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                n += sum(1 for l in out.get("text", "").splitlines() if l.startswith("✓ "))
    return n


def run_notebook(path, kernel_name, timeout, write, params=None, output=None):
    import nbformat
    from jupyter_client.manager import KernelManager

    nb = nbformat.read(path, as_version=4)
    if params:
        inject_params(nb, params, path)
    km = KernelManager(kernel_name=kernel_name)
    cwd = os.path.dirname(os.path.abspath(path))
    km.start_kernel(cwd=cwd)
    kc = km.client()
    kc.start_channels()
    failures = []
    language_info = None
    try:
        kc.wait_for_ready(timeout=60)
        language_info = kernel_info(kc)["language_info"]
        count = 0
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
            if not source.strip():
                cell.outputs = []
                continue
            count += 1
            label = cell_label(index, source)
            started = time.time()
            try:
                outputs = execute_cell(kc, source, timeout, label)
            except CellFailure as e:
                failures.append(str(e))
                cell.outputs = []
                break
            finally:
                cell.metadata.setdefault("lora_lab", {})["seconds"] = round(time.time() - started, 1)
            cell.outputs = [nbformat.from_dict(o) for o in outputs]
            cell.execution_count = count
            stderr = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr")
            bad = unexpected_stderr(stderr)
            if bad:
                kind = "uncaught asynchronous error" if any("UncaughtException" in l for l in bad) else "unexpected stderr"
                failures.append(f"{label}: {kind}: {without_stack(chr(10).join(bad))}")
                break
        if not failures:
            # Errors from timers or promises that outlive the last cell arrive after its reply.
            late = drain_iopub(kc, 1.0)
            bad = unexpected_stderr(late)
            if bad:
                failures.append(f"after the last cell: uncaught asynchronous error or stderr: {without_stack(chr(10).join(bad))}")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    if write and not failures:
        if not params:
            mark_slow_cells(nb)
        target = output or path
        nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": "TypeScript (lora-lab)", "language": "typescript"}
        nb.metadata["language_info"] = language_info
        nb = nbformat.from_dict(as_browser_writes(nb))
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(target)), suffix=".ipynb.tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                nbformat.write(nb, f)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, os.stat(path).st_mode & 0o777)  # mkstemp makes 0600; keep the notebook's mode
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return failures, count_checks(nb)


def kernel_info(kc):
    """The kernel's kernel_info reply content (tslab's hard-codes "version": "3.7.2": kept as it is)."""
    msg_id = kc.kernel_info()
    while True:
        msg = kc.get_shell_msg(timeout=30)
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg["content"]


def as_browser_writes(value):
    """The notebook with every whole-number float as an int: JavaScript saves 1.0 as 1, so a notebook opened in
    Jupyter and saved unchanged would otherwise differ from the file the runner wrote."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: as_browser_writes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_browser_writes(v) for v in value]
    return value


def print_kernel_info(kernel_name):
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        print(json.dumps(kernel_info(kc), indent=1, sort_keys=True))
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def drain_iopub(kc, seconds):
    text = ""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=max(0.05, deadline - time.time()))
        except queue.Empty:
            break
        if msg["msg_type"] == "stream" and msg["content"].get("name") == "stderr":
            text += msg["content"]["text"]
        elif msg["msg_type"] == "error":
            text += "UncaughtException: " + msg["content"].get("evalue", "") + "\n"
    return text


def execute_cell(kc, source, timeout, label):
    msg_id = kc.execute(source, store_history=True, allow_stdin=False, stop_on_error=True)
    outputs = []
    by_display_id = {}
    deadline = time.time() + timeout
    idle = False
    reply = None
    while not (idle and reply is not None):
        remaining = deadline - time.time()
        if remaining <= 0:
            raise CellFailure(f"{label}: timed out after {timeout} s")
        if not idle:
            try:
                msg = kc.get_iopub_msg(timeout=min(remaining, 5))
            except queue.Empty:
                continue
            parent = msg.get("parent_header", {}).get("msg_id")
            kind = msg["msg_type"]
            content = msg["content"]
            if parent != msg_id:
                # Output from an earlier cell's leftover work: stderr there is an asynchronous failure.
                if kind == "stream" and content.get("name") == "stderr" and unexpected_stderr(content["text"]):
                    raise CellFailure(f"{label}: uncaught asynchronous error from an earlier cell: {content['text'].strip()[:500]}")
                continue
            if kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "stream":
                if outputs and outputs[-1].get("output_type") == "stream" and outputs[-1]["name"] == content["name"]:
                    outputs[-1]["text"] += content["text"]
                else:
                    outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
            elif kind in ("display_data", "update_display_data", "execute_result"):
                out = {"output_type": "display_data" if kind != "execute_result" else "execute_result",
                       "data": content.get("data", {}), "metadata": content.get("metadata", {})}
                if kind == "execute_result":
                    out["execution_count"] = None
                display_id = (content.get("transient") or {}).get("display_id")
                if kind == "update_display_data":
                    for target in by_display_id.get(display_id, []):
                        target["data"] = out["data"]
                        target["metadata"] = out["metadata"]
                    continue
                if display_id:
                    if display_id in by_display_id:
                        for target in by_display_id[display_id]:
                            target["data"] = out["data"]
                            target["metadata"] = out["metadata"]
                        continue
                    by_display_id.setdefault(display_id, []).append(out)
                outputs.append(out)
            elif kind == "error":
                text = "\n".join(content.get("traceback") or []) or f"{content.get('ename')}: {content.get('evalue')}"
                raise CellFailure(f"{label}: {text.strip()[:1000]}")
        if reply is None:
            try:
                msg = kc.get_shell_msg(timeout=0.05 if not idle else min(max(remaining, 0.05), 5))
            except queue.Empty:
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                reply = msg
    status = reply["content"].get("status")
    if status != "ok":
        stderr = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr")
        detail = stderr.strip() or f"{reply['content'].get('ename', '')}: {reply['content'].get('evalue', '')}"
        raise CellFailure(f"{label}: status '{status}': {without_stack(detail)[:1000]}")
    for out in outputs:
        if out["output_type"] == "stream" and out["name"] == "stdout":
            out["text"] = strip_ansi(out["text"])
    return outputs


def without_stack(text):
    """The error without its stack frames (they point into tslab, not the notebook)."""
    lines = [l for l in text.splitlines() if l.strip() and not re.match(r"^\s+at ", l)]
    return " | ".join(lines[:6])


def strip_ansi(text):
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["check", "execute", "info"])
    ap.add_argument("notebooks", nargs="*")
    ap.add_argument("--kernel", default="lora-lab")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per cell")
    ap.add_argument("--report", help="write a JSON report of each notebook's result here")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    ap.add_argument("--output", help="with --param and execute: where to write the executed notebook")
    args = ap.parse_intermixed_args()  # options before or after the notebooks, as the README writes them
    if args.mode == "info":
        print_kernel_info(args.kernel)
        return
    if not args.notebooks:
        ap.error("name at least one notebook")
    try:
        params = parse_params(args.param)
    except ValueError as e:
        ap.error(str(e))
    if params and args.mode == "execute" and len(args.notebooks) > 1 and args.output:
        ap.error("--output names one file: execute one notebook at a time with --param")
    results = []
    for path in args.notebooks:
        if not os.path.isfile(path):
            print(f"FAIL {path}: no such notebook file", flush=True)
            results.append({"notebook": path, "ok": False, "failures": ["no such notebook file"], "seconds": 0})
            continue
        started = time.time()
        output = None
        if params and args.mode == "execute":
            stem = os.path.splitext(os.path.basename(path))[0]
            output = args.output or os.path.join("out", "notebooks", f"{stem}.params.ipynb")
            if os.path.abspath(output) == os.path.abspath(path):
                ap.error(f"--output {output} is the notebook itself: with --param, write elsewhere")
        checks = 0
        try:
            failures, checks = run_notebook(path, args.kernel, args.timeout, args.mode == "execute", params, output)
        except ValueError as e:  # an unknown parameter
            failures = [str(e)]
        except Exception as e:  # kernel did not start, bad notebook JSON, ...
            failures = [f"{type(e).__name__}: {e}"]
        seconds = round(time.time() - started, 1)
        results.append({"notebook": path, "ok": not failures, "failures": failures, "seconds": seconds,
                        "checks": checks, "params": params})
        if failures:
            print(f"FAIL {path} ({seconds} s)", flush=True)
            for f in failures:
                print(f"  {f}", flush=True)
        else:
            shown = " ".join(f"{k}={json.dumps(v)}" for k, v in params.items())
            print(f"ok   {path} ({seconds} s, {checks} checks{', ' + shown if shown else ''})"
                  f"{' -> ' + output if output else ''}", flush=True)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    passed = sum(r["ok"] for r in results)
    print(f"notebooks: {passed} passed, {len(results) - passed} failed", flush=True)
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
