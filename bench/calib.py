"""bench/calib.py - price-history rows of `make bench` (docs/volatility.md).

Two rows, both on candles generated here (a seeded driftless random walk
with Brownian-bridge-like wicks; no public data is read):
  - load: `cascaded import --prices ASSET FILE.csv` of 1e6 one-minute
    candles (694 days, inside the default 1095-day retention) into a fresh
    seeded database (the seed's BTC market): CSV parse, validation, one SQLite transaction and
    the estimator append.  Wall time and the child's peak RSS.
  - backtest: `cascaded backtest` of a month of hourly candles for 5
    assets (3600 candles, --warmup 3, default options otherwise), median
    of 5 runs; and the same with `--estimator garch`.
BENCH_QUICK=1: 2e5 candles for the load, 3 backtest runs.

Called by bench/run.py: run(res, tmp) fills res["calib"]; targets(add, res)
adds the rows.  Alone: python3 bench/calib.py (prints the figures).
"""
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "cascaded")
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
ASSETS = ["A1", "A2", "A3", "A4", "A5"]


def write_candles(path, n, step, seed, sigma_year=0.8):
    """n candles, `step` seconds apart, from 2024-01-01 00:00 UTC."""
    rng = random.Random(seed)
    s = sigma_year * math.sqrt(step / (365.0 * 86400.0))
    t0 = 1704067200
    x = math.log(1000.0)
    with open(path, "w") as f:
        f.write("time,open,high,low,close\n")
        for i in range(n):
            x1 = x + s * rng.gauss(0.0, 1.0)
            o, c = math.exp(x), math.exp(x1)
            hi = max(o, c) * math.exp(abs(rng.gauss(0.0, 0.5 * s)))
            lo = min(o, c) * math.exp(-abs(rng.gauss(0.0, 0.5 * s)))
            f.write("%d,%.6f,%.6f,%.6f,%.6f\n" % (t0 + i * step, o, hi, lo,
                                                 c))
            x = x1


def timed(cmd):
    """Wall seconds and the child's peak RSS (KiB; this child alone when
    it is the largest so far, else an upper bound)."""
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                 p.stderr.strip()))
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def run(res, tmp):
    out = res.setdefault("calib", {})
    fails = res.setdefault("failures", [])
    n = 200000 if QUICK else 1000000
    try:
        csv = os.path.join(tmp, "calib-load.csv")
        db = os.path.join(tmp, "calib-load.db")
        write_candles(csv, n, 60, 1)
        for sub in ("migrate", "seed"):     # the seed's markets
            subprocess.run([BIN, sub, "--db", db], check=True,
                           capture_output=True)
        wall, rss = timed([BIN, "import", "--prices", "BTC", csv,
                           "--db", db])
        out["load"] = {"candles": n, "wall_s": wall, "max_rss_kb": rss}
        os.unlink(csv)
        files = []
        for k, a in enumerate(ASSETS):
            p = os.path.join(tmp, a + ".csv")
            write_candles(p, 30 * 24, 3600, 10 + k)
            files.append(p)
        for est in ("blend", "garch"):
            walls = [timed([BIN, "backtest", "--warmup", "3", "--estimator",
                            est] + files)[0]
                     for _ in range(3 if QUICK else 5)]
            out["backtest_" + est] = {"assets": len(files),
                                      "candles": 30 * 24 * len(files),
                                      "median_s": statistics.median(walls),
                                      "runs": walls}
    except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
        fails.append("calib: %s" % e)


def targets(add, res):
    c = res.get("calib", {})
    ld = c.get("load")
    if ld:
        add("load of %.0e one-minute candles, one asset (cascaded import "
            "--prices)" % ld["candles"], ld["wall_s"], None, "s", "< 10",
            lambda v: v < 10)
    for est in ("blend", "garch"):
        b = c.get("backtest_" + est)
        if b:
            add("backtest, a month of hourly candles for 5 assets (%s)"
                % est, b["median_s"], None, "s", "< 1", lambda v: v < 1)


if __name__ == "__main__":
    r = {}
    d = tempfile.mkdtemp(prefix="cascaded-calib-bench-")
    run(r, d)
    rows = []
    targets(lambda what, v, cpu, unit, goal, ok: rows.append(
        (what, v, unit, goal, ok(v))), r)
    for what, v, unit, goal, ok in rows:
        print("%-72s %8.3f %s (goal %s)%s" % (what, v, unit, goal,
                                              "" if ok else "  NOT MET"))
    print(r.get("failures") or "", file=sys.stderr)
    subprocess.run(["rm", "-rf", d])
