#!/usr/bin/env python3
"""Write a falsify trace file (docs/trace-format.md) from your own engine's
activations. Standard library only (numpy arrays work too: anything that
iterates as rows of floats).

As a library:

    import write_trace as wt
    layers = [{"attn_norm": rows, "qkv": rows, ...} for each layer]
    wt.write_trace("mine.json", tokens, layers, embed=rows,
                   final_norm=rows, logits=rows,
                   provenance={"model": "model.gguf", "backend": "my-engine"},
                   sidecar="mine.safetensors")   # or None: vectors inline

where `rows` is one list of floats per token position (every position, or
only the last). Slots a model does not have may be left out. With
stats_only=True only the statistics are written (as aprender's
`apr trace` gives); falsify then BLOCKs gates that compare vectors.

As a command (used by falsify's tests, and as a worked example): convert a
llama.cpp golden forward file into a trace file.

    python3 contrib/write_trace.py --from-golden G.json.gz OUT.json \
        [--sidecar OUT.safetensors] [--stats-only] [--last-only]

Inside a `command:` subject, write to $FALSIFY_TRACE_OUT; the input's
token ids are in $FALSIFY_TOKENS (comma-separated) and the prompt in
$FALSIFY_PROMPT.
"""

import argparse
import gzip
import hashlib
import json
import math
import os
import struct
import sys

FORMAT = "falsify-trace"
VERSION = 1
LAYER_SLOTS = ["attn_norm", "qkv", "attn_out", "ffn_norm", "ffn_gate", "ffn_up",
               "ffn_silu_gate", "ffn_swiglu_inner", "ffn_out", "output"]


def f32(x):
    """Round a Python float to the nearest float32 (what the trace holds)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def stats(values):
    """The statistics of capture-points.md over values (float32s), in float64:
    counts over every element, the rest over the finite ones, std with
    divisor n-1 (0 when n <= 1), null when no element is finite."""
    count = nan = inf = zero = 0
    finite = []
    for v in values:
        count += 1
        if math.isnan(v):
            nan += 1
        elif math.isinf(v):
            inf += 1
        else:
            if v == 0:
                zero += 1
            finite.append(v)
    out = {"count": count, "nan_count": nan, "inf_count": inf, "zero_count": zero}
    if not finite:
        out.update({k: None for k in ("min", "max", "mean", "std", "rms", "abs_max", "l2")})
        return out
    n = len(finite)
    s = math.fsum(finite)
    mean = s / n
    sq = math.fsum(v * v for v in finite)
    dev = math.fsum((v - mean) ** 2 for v in finite)
    out.update({
        "min": min(finite), "max": max(finite), "mean": mean,
        "std": math.sqrt(dev / (n - 1)) if n > 1 else 0.0,
        "rms": math.sqrt(sq / n), "abs_max": max(abs(v) for v in finite),
        "l2": math.sqrt(sq),
    })
    return out


def json_float(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return x


def slot_record(rows, n_tokens, keep_all=True, inline=True):
    """One SLOT of the trace: statistics over the last position and over
    every position, and (inline) the vectors."""
    rows = [[f32(float(v)) for v in r] for r in rows]
    if len(rows) not in (1, n_tokens):
        raise ValueError("%d rows for %d tokens: give one row per token position, or only the last" % (len(rows), n_tokens))
    if any(len(r) != len(rows[0]) for r in rows):
        raise ValueError("rows of different widths: every position of a slot has one width")
    rec = {"last_token": stats(rows[-1])}
    if len(rows) == n_tokens:
        rec["all_tokens"] = stats(v for r in rows for v in r)
    else:
        # Only the last position was kept: all_tokens cannot be computed.
        rec["all_tokens"] = stats([])
    if inline:
        rec["last"] = [json_float(v) for v in rows[-1]]
        if keep_all and len(rows) == n_tokens:
            rec["positions"] = [[json_float(v) for v in r] for r in rows]
    return rec, rows


def write_safetensors(path, tensors):
    """tensors: list of (name, rows) written as F32 [len(rows), width]."""
    header = {"__metadata__": {"format": FORMAT, "version": str(VERSION)}}
    off = 0
    for name, rows in tensors:
        n = len(rows) * len(rows[0]) * 4
        header[name] = {"dtype": "F32", "shape": [len(rows), len(rows[0])], "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - (8 + len(hb)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, rows in tensors:
            for r in rows:
                f.write(struct.pack("<%df" % len(r), *r))


def write_trace(path, tokens, layers, embed=None, final_norm=None, logits=None,
                provenance=None, sidecar=None, stats_only=False, keep_all=True):
    """Write a trace file at path. layers: one dict per layer, slot name to
    rows. sidecar: a file name beside path for the vectors (safetensors)."""
    n = len(tokens)
    inline = not stats_only and sidecar is None
    tensors = []

    def record(name, rows):
        if rows is None or len(rows) == 0:
            return {"last_token": stats([]), "all_tokens": stats([])}
        rec, rows = slot_record(rows, n, keep_all, inline)
        if sidecar and not stats_only:
            tensors.append((name, rows if keep_all else rows[-1:]))
        return rec

    doc = {"format": FORMAT, "version": VERSION, "tokens": list(tokens),
           "provenance": dict(provenance or {"model": "unknown"})}
    doc["provenance"].setdefault("threads", 0)
    doc["embed"] = record("embed", embed)
    doc["layers"] = []
    for i, layer in enumerate(layers):
        unknown = set(layer) - set(LAYER_SLOTS)
        if unknown:
            raise ValueError("layer %d: %s not slots of capture-points.md" % (i, sorted(unknown)))
        doc["layers"].append({"layer": i, "slots": {s: record("layers.%d.%s" % (i, s), layer.get(s)) for s in LAYER_SLOTS}})
    doc["final_norm"] = record("final_norm", final_norm)
    doc["logits"] = record("logits", logits)
    if sidecar and not stats_only:
        if os.sep in sidecar:
            raise ValueError("sidecar is a file name written beside the trace file")
        sc = os.path.join(os.path.dirname(os.path.abspath(path)), sidecar)
        write_safetensors(sc, tensors)
        with open(sc, "rb") as f:
            doc["vectors"] = {"file": sidecar, "sha256": hashlib.sha256(f.read()).hexdigest()}
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")


def from_golden(golden, out, sidecar=None, stats_only=False, keep_all=True):
    with open(golden, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip, whatever the name says
        raw = gzip.decompress(raw)
    g = json.loads(raw)
    layers = [{s: l[s] for s in LAYER_SLOTS if s in l} for l in g["layers"]]
    ref = g.get("reference", {})
    prov = {"model": g.get("model", {}).get("file", golden), "backend": ref.get("engine", "llama.cpp"),
            "engine_version": "contrib/write_trace.py from " + os.path.basename(golden)}
    write_trace(out, g["tokens"], layers, g["embed"], g["final_norm"], g["logits"],
                prov, sidecar, stats_only, keep_all)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from-golden", required=True, help="llama.cpp golden forward file (.json or .json.gz)")
    ap.add_argument("out", help="trace file to write")
    ap.add_argument("--sidecar", help="write the vectors to this safetensors file beside OUT")
    ap.add_argument("--stats-only", action="store_true", help="statistics only, no vectors")
    ap.add_argument("--last-only", action="store_true", help="keep only the last position's vectors")
    a = ap.parse_args()
    from_golden(a.from_golden, a.out, a.sidecar, a.stats_only, not a.last_only)


if __name__ == "__main__":
    sys.exit(main())
