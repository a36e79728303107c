#!/usr/bin/env python3
"""Re-derive the bands of contracts/cpu-vs-gpu-forward-parity-v1.yaml from
measured evidence.

    falsify run --evidence /tmp/ev cpu-vs-gpu-forward-parity-v1   # any bands: every value is recorded
    scripts/cpu-vs-gpu-bands.py /tmp/ev [/tmp/ev2 ...] > /tmp/new.yaml
    diff contracts/cpu-vs-gpu-forward-parity-v1.yaml /tmp/new.yaml

For every NMSE gate the floor is the worst value over layers (and over all
evidence directories given), for the logits gate the worst KL; the band is
max(floor, FLOOR_MIN) x MARGIN rounded up to one significant digit. The
contract's head (everything before `falsification_tests:`) is kept as it is;
the gates are rewritten in the same order with the new bands and the
measured floors in their predictions. A gate that did not measure (SKIP,
ERROR, BLOCKED) is an error: bands come from measurements only.
"""
import json
import math
import os
import sys

MARGIN = 10
FLOOR_MIN = 1e-12  # a slot bit-exact on the measuring device still gets a band above 0
CONTRACT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "contracts", "cpu-vs-gpu-forward-parity-v1.yaml")
CONTRACT_ID = "cpu-vs-gpu-forward-parity-v1"

SLOTS = ["embed", "attn_norm", "qkv", "attn_out", "ffn_norm", "ffn_gate", "ffn_up",
         "ffn_silu_gate", "ffn_swiglu_inner", "ffn_out", "output", "final_norm"]
GLOBAL = ("embed", "final_norm")
PAIRS = [
    ("quantized", "the builtin Q4_K_M model (Q4_K and Q6_K blocks) in the quantized matmul mode "
                  "(activations quantized to Q8_1 on the GPU, Q8_K on the CPU, integer dot products)"),
    ("f32", "the builtin model's F32 form in the f32 matmul mode (float32 weights and activations)"),
]


def band(x):
    x = max(x, FLOOR_MIN) * MARGIN
    e = math.floor(math.log10(x))
    m = math.ceil(round(x / 10 ** e, 6))
    if m == 10:
        m, e = 1, e + 1
    return f"{m}.0e{e}"


def measured(dirs):
    """Worst value per (pair, what): what is a slot name, 'logits' or 'kl'."""
    worst = {}
    for d in dirs:
        gdir = os.path.join(d, CONTRACT_ID)
        if not os.path.isdir(gdir):
            sys.exit(f"{d}: no {CONTRACT_ID}/ directory of gate records in it "
                     f"(falsify run --evidence {d} {CONTRACT_ID} writes one)")
        names = sorted(n for n in os.listdir(gdir) if n.startswith("FALSIFY-") and n.endswith(".json"))
        if not names:
            sys.exit(f"{gdir}: no gate records")
        for n in names:
            rec = json.load(open(os.path.join(gdir, n)))
            p = rec.get("params", {})
            if rec["kind"] == "deterministic":
                continue
            if rec["verdict"] not in ("PASS", "FAIL"):
                sys.exit(f"{gdir}/{n}: {rec['verdict']} ({rec.get('reason', '')}): nothing measured to set a band from")
            pair = p["a"].removeprefix("gpu_")
            for m in rec["measurements"]:
                if rec["kind"] == "metric_max" and m["name"] == "nmse":
                    key = m["slot"]
                elif rec["kind"] == "logits" and m["name"] == "kl_max":
                    key = "kl"
                else:
                    continue
                v = m["value"]
                if isinstance(v, str):
                    sys.exit(f"{gdir}/{n}: non-finite {key} {v}: no band from that")
                worst[(pair, key)] = max(worst.get((pair, key), 0.0), v)
    return worst


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    worst = measured(sys.argv[1:])
    head = open(CONTRACT).read().split("\nfalsification_tests:")[0]
    out = [head.rstrip("\n"), "", "falsification_tests:"]
    w = out.append
    n = 0

    def need(pair, key):
        if (pair, key) not in worst:
            sys.exit(f"no measurement of {key} for the {pair} pair in {', '.join(sys.argv[1:])}")
        return worst[(pair, key)]

    for pair, what in PAIRS:
        gpu, cpu = "gpu_" + pair, "cpu_" + pair
        for slot in SLOTS + ["logits"]:
            n += 1
            v = need(pair, slot)
            where = "every position" if slot in GLOBAL + ("logits",) else "every layer, every position"
            layers = "" if slot in GLOBAL + ("logits",) else ", layers: all"
            w(f"- id: FALSIFY-CPU-GPU-{n:03d}")
            w(f'  rule: "{pair} mode: {slot} on the GPU matches the CPU"')
            w("  prediction: >-")
            w(f"    NMSE(GPU, CPU) of {slot} at {where} <= {band(v)} on {what};")
            w(f"    measured worst {v:.2e} (band = max(measured, {FLOOR_MIN:g}) x {MARGIN}, one digit, rounded up)")
            w(f"  if_fails: the GPU's {slot} departs from the CPU's beyond rounding; the first offending layer says where "
              f"(falsify diff --backend-a vulkan --backend-b cpu shows every slot)")
            w(f"  gate: {{kind: metric_max, metric: nmse, a: {gpu}, b: {cpu}, slots: [{slot}]{layers}, positions: all, max: {band(v)}}}")
            w("")
        n += 1
        kl = need(pair, "kl")
        w(f"- id: FALSIFY-CPU-GPU-{n:03d}")
        w(f"  rule: \"{pair} mode: the GPU's logits pick the CPU's top-1 token\"")
        w("  prediction: >-")
        w(f"    The top-1 token agrees at every position and KL(CPU || GPU) <= {band(kl)} nats at every position")
        w(f"    (measured worst {kl:.2e}; band as for NMSE)")
        w("  if_fails: the GPU would generate different text than the CPU")
        w(f"  gate: {{kind: logits, a: {gpu}, b: {cpu}, positions: all, top1_min: 1.0, kl_max: {band(kl)}}}")
        w("")
        n += 1
        w(f"- id: FALSIFY-CPU-GPU-{n:03d}")
        w(f'  rule: "{pair} mode: two GPU runs are bit-identical"')
        w("  prediction: two traced runs on the GPU give bit-identical traces (every slot, every position, logits)")
        w("  if_fails: a GPU reduction depends on scheduling (atomics, subgroup order, uninitialized shared memory)")
        w(f"  gate: {{kind: deterministic, subject: {gpu}, runs: 2}}")
        w("")
    print("\n".join(out).rstrip("\n"))


if __name__ == "__main__":
    main()
