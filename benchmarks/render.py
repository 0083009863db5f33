"""``gpu_bench.md``: the report of ``gpu_bench.py`` in words, from its JSON."""
from __future__ import annotations


def _throughput_table(rows) -> list:
    lines = ["| mode | batch | images/s | ms/step | GFLOP/s | of reference | what |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['batch_size']} | {r['samples_per_sec']:,.1f} | "
                     f"{r['step_time_ms']} | {r.get('achieved_gflops')} | {r.get('of_reference')} | "
                     f"{r.get('what', '')} |")
    return lines


def _train_lines(t: dict) -> list:
    lines = ["## End to end: `auzoo " + t.get("command", "train") + "`", ""]
    if "images_per_s" in t:
        lines += [f"**{t['images_per_s']:,.1f} images/s** — {t['what']} "
                  f"(median iteration {t['median_iter_ms']} ms).", ""]
    if t.get("f1_mean") is not None:
        lines += [f"Mean F1 {t['f1_mean']:.1f} against always-present "
                  f"{t.get('baseline_f1_mean', '?')} on {t.get('frames', '?')} test frames "
                  f"(synthetic data, {t['epochs']} epochs of {t['iters_per_epoch']}, best epoch "
                  f"{t.get('best_epoch', '?')}); precision {t.get('precision')}.", ""]
    if t.get("epoch_split"):
        lines += ["| epoch | training s | hooks after training s | scoring s | "
                  "hooks after scoring s (checkpoint) |", "|---:|---:|---:|---:|---:|"]
        for e in t["epoch_split"]:
            lines.append(f"| {e['epoch']} | {e.get('train_s', '')} | {e.get('after_train_hooks_s', '')} "
                         f"| {e.get('eval_s', '')} | {e.get('after_val_hooks_s', '')} |")
        lines.append("")
    if t.get("error"):
        lines += [f"**{t['error']}**", ""]
    return lines


def _goals(parts: dict) -> list:
    """The goals, read off the rows that measure them (not the best row of any size)."""
    lines = []
    train = parts.get("train", {})
    if "images_per_s" in train and train.get("batch") == 64:
        lines.append(f"* goal training >= 3,000 images/s at the protocol's batch of 64, end to end: "
                     f"{train['images_per_s']:,.0f}")
    overhead = parts.get("overhead")
    if overhead:
        lines.append(f"* goal auzoo's loop <= 3 ms per iteration over a plain loop: "
                     f"{overhead['extra_ms']:+.2f} ms")
    infer = [r for name in ("eager", "compiled") for r in parts.get(name) or [] if r["mode"] == "infer"]
    for r in infer:
        lines.append(f"* goal inference >= 10,000 images/s ({'compiled' if r['compile'] else 'eager'}, "
                     f"batch {r['batch_size']}): {r['samples_per_sec']:,.0f}")
    return lines + [""] if lines else []


def render_report(data: dict) -> str:
    parts = data.get("parts", {})
    setup = parts.get("setup", {})
    lines = ["# auzoo GPU benchmark" + (" — SMOKE RUN (tiny sizes, CPU)" if data.get("smoke") else ""),
             ""]
    lines += [f"    {line}" for line in setup.get("machine_lines", [])]
    if setup.get("versions"):
        lines += ["", "versions: " + ", ".join(f"{k} {v}" for k, v in setup["versions"].items())]
    if setup.get("wheels", {}).get("installed"):
        lines += ["installed from wheels: " + ", ".join(setup["wheels"]["installed"])]
    lines.append("")
    if "train" in parts:
        lines += _train_lines(parts["train"])
    if parts.get("overhead"):
        lines += ["## auzoo's loop against a plain loop (`engine_overhead.py`)", "", "```",
                  *parts["overhead"]["lines"], "```", ""]
    for name, title in (("eager", "Model alone, eager"), ("compiled", "Model alone, torch.compile")):
        if parts.get(name):
            lines += [f"## {title}", ""] + _throughput_table(parts[name]) + [""]
    lines += _goals(parts)
    if data.get("skipped"):
        lines += ["Skipped: " + "; ".join(data["skipped"]), ""]
    for name, error in data.get("failed", {}).items():
        lines += [f"FAILED {name}: `{error.splitlines()[-1] if error else ''}`", ""]
    lines.append(f"Elapsed {data.get('elapsed_s')} s.")
    return "\n".join(lines) + "\n"
