#!/usr/bin/env python3
"""Side-by-side table of fanout JSONL records: berth vs Centrifugo.

usage: table.py RESULTS.jsonl [META.jsonl]

RESULTS.jsonl holds the fanout client's records (one per run; -json FILE).
META.jsonl (written by run.sh, optional) holds one line per run:
{"label", "system", "n", "rate", "rep", "rc", "load1", "srv_write_syscalls"}
(load1: the machine's 1-minute load average just before the run;
srv_write_syscalls: write system calls of the server during the client run,
from /proc/PID/io syscw).

Each figure is the median over the repetitions of one (system, N, rate); with
more than one repetition the min-max range follows in brackets. Ratios are
median(berth) / median(centrifugo). Prints Markdown on stdout.

Loss is corrected for a quirk of the shared client with berth's envelope
({"stream":…,"seq":S,"payload":{"ts":…,"seq":s}}): the client reads the first
"seq": of a frame, which is berth's stream seq S = s + 1 on a fresh server,
so the last message (S = M) is counted under foreign_frames instead of
deliveries. "loss" below is (expected - received - foreign) / expected; the
client's raw loss_pct is shown too. Centrifugo's foreign count is 0.
A negative raw loss means that publish requests failed at the client (its
10 s HTTP timeout) although the server delivered the messages: they are not
in "expected" but are received; "publishes failed" counts them.
"""
import json
import statistics
import sys
from collections import defaultdict

TARGET_KB_PER_CONN = 30.0


def load(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def system_of(r):
    return "berth" if r["proto"] == "berth" else "centrifugo"


def loss_adj(r):
    exp = r["deliveries_expected"]
    if exp <= 0:
        return 100.0
    got = r["deliveries_received"] + r["foreign_frames"]
    return max(0.0, 100.0 * (exp - got) / exp)


META = {}


def writes_per_delivery(r):
    m = META.get(r["label"], {})
    got = r["deliveries_received"] + r["foreign_frames"]
    if "srv_write_syscalls" not in m or got <= 0:
        return float("nan")
    return m["srv_write_syscalls"] / got


def us_per_delivery(r):
    got = r["deliveries_received"] + r["foreign_frames"]
    if got <= 0 or r["srv_cpu_load_s"] < 0:
        return float("nan")
    return 1e6 * r["srv_cpu_load_s"] / got


METRICS = [
    # name, getter, format
    ("p50 ms", lambda r: r["latency"]["p50_ms"], "{:.1f}"),
    ("p99 ms", lambda r: r["latency"]["p99_ms"], "{:.1f}"),
    ("max ms", lambda r: r["latency"]["max_ms"], "{:.0f}"),
    ("loss %", loss_adj, "{:.4f}"),
    ("raw loss %", lambda r: r["loss_pct"], "{:.4f}"),
    ("publishes failed", lambda r: r["pub_failed"], "{:.0f}"),
    ("srv CPU s", lambda r: r["srv_cpu_load_s"], "{:.2f}"),
    ("srv CPU %core", lambda r: r["srv_cpu_load_pct"], "{:.0f}"),
    ("srv CPU µs/delivery", us_per_delivery, "{:.1f}"),
    ("srv write(2)/delivery", writes_per_delivery, "{:.2f}"),
    ("cli CPU %core", lambda r: r["cli_cpu_load_pct"], "{:.0f}"),
    ("RSS KB/idle conn", lambda r: r["srv_rss_kb_per_conn"], "{:.1f}"),
    ("load wall s", lambda r: r["load_wall_s"], "{:.1f}"),
]
RATIO = {"p50 ms", "p99 ms", "srv CPU s", "srv CPU µs/delivery", "srv write(2)/delivery", "RSS KB/idle conn"}


def cell(vals, fmt):
    vals = [v for v in vals if v == v]  # drop NaN (figure not available)
    if not vals:
        return "—", float("nan")
    med = statistics.median(vals)
    s = fmt.format(med)
    if len(vals) > 1:
        s += " (" + fmt.format(min(vals)) + "–" + fmt.format(max(vals)) + ")"
    return s, med


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    recs = load(sys.argv[1])
    meta = META
    if len(sys.argv) > 2:
        for m in load(sys.argv[2]):
            meta[m["label"]] = m
    groups = defaultdict(list)
    for r in recs:
        groups[(r["n"], r["rate"], system_of(r))].append(r)
    rows = sorted({(n, rate) for n, rate, _ in groups}, key=lambda k: (k[0], k[1]))

    print("| N×R | system | runs | " + " | ".join(m[0] for m in METRICS) + " | capped runs | load1 |")
    print("|---|---|---:|" + "---:|" * len(METRICS) + "---:|---:|")
    verdicts = []
    for n, rate in rows:
        meds = {}
        for system in ("berth", "centrifugo"):
            rs = groups.get((n, rate, system), [])
            if not rs:
                continue
            cells = []
            meds[system] = {}
            for name, get, fmt in METRICS:
                c, med = cell([get(r) for r in rs], fmt)
                cells.append(c)
                meds[system][name] = med
            capped = sum(1 for r in rs if r.get("aborted"))
            loads = [meta[r["label"]]["load1"] for r in rs if r["label"] in meta and "load1" in meta[r["label"]]]
            load1 = "{:.1f}".format(statistics.median(loads)) if loads else "—"
            print(f"| {n}×{rate:g} | {system} | {len(rs)} | " + " | ".join(cells) + f" | {capped} | {load1} |")
        if "berth" in meds and "centrifugo" in meds:
            cells = []
            for name, _, _ in METRICS:
                b, c = meds["berth"][name], meds["centrifugo"][name]
                cells.append("{:.2f}".format(b / c) if name in RATIO and c and b == b and c == c else "")
            print(f"| {n}×{rate:g} | **berth/centrifugo** | | " + " | ".join(cells) + " | | |")
        verdicts.append(verdict(n, rate, groups))

    print()
    print("Targets (berth), per N×R:")
    print()
    print("| N×R | zero loss (every run) | p99 below Centrifugo's (every run, paired by repetition) | under 30 KB per idle connection (median) |")
    print("|---|---|---|---|")
    for v in verdicts:
        print(v)


def verdict(n, rate, groups):
    b = groups.get((n, rate, "berth"), [])
    c = groups.get((n, rate, "centrifugo"), [])
    if not b:
        return f"| {n}×{rate:g} | no berth run | | |"
    losses = [loss_adj(r) for r in b]
    loss = "met" if all(x == 0 for x in losses) else "NOT met (worst {:.4f} %)".format(max(losses))
    if c:
        # pair the runs of one repetition (labels end in -repK)
        def rep(r):
            return r["label"].rsplit("-rep", 1)[-1]
        cb = {rep(r): r for r in c}
        pairs = [(r, cb[rep(r)]) for r in b if rep(r) in cb]
        if pairs:
            ok = all(x["latency"]["p99_ms"] < y["latency"]["p99_ms"] for x, y in pairs)
            detail = ", ".join("{:.0f} vs {:.0f} ms".format(x["latency"]["p99_ms"], y["latency"]["p99_ms"]) for x, y in pairs)
            p99 = ("met" if ok else "NOT met") + " (" + detail + ")"
        else:
            p99 = "no paired run"
    else:
        p99 = "no Centrifugo run"
    kb = statistics.median([r["srv_rss_kb_per_conn"] for r in b])
    mem = ("met" if kb < TARGET_KB_PER_CONN else "NOT met") + " ({:.1f} KB)".format(kb)
    return f"| {n}×{rate:g} | {loss} | {p99} | {mem} |"


if __name__ == "__main__":
    main()
