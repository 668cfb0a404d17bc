#!/usr/bin/env python3
"""calibrate.py - choose and document the volatility model's defaults.

`make calibration` runs it (not part of `make test`).  It reads the raw
public price sets under SHARED_DATA (default: ../shared/data relative to
the repository root), converts them into temporary CSV files in the
backtest's format (time,open,high,low,close) under build/calibration/,
runs `build/cascaded backtest` for each estimator and parameter set, and
writes
  docs/calibration.md             the tables and the verdict,
  docs/img/calibration-*.svg      the reliability diagrams (held-out),
  service/codec_calibration.h     the O/E rows POST /v1/score echoes.
Parameters are FITTED on the forecasts of 2018-2021 and REPORTED on those
of 2022 onwards (the first period's candles are still the history the
later forecasts are estimated from; no outcome of the report period is
used to choose anything).  Nothing of the raw data is written outside
build/.

Fit criterion: the mean pooled log score (a proper scoring rule) over
horizons 1 and 7 days, both directions.
"""
import argparse
import concurrent.futures as cf
import csv
import datetime as dt
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINANCE = ["BTC", "ETH", "LINK", "SOL", "BNB"]
AAVE = ["WETH", "WBTC", "LINK", "CRV", "stETH"]
FIT_FROM = "2018-01-01"
SPLIT = "2022-01-01"
ESTIMATORS = ["blend", "ewma", "parkinson", "garman-klass",
              "rogers-satchell"]
H_GRID = [4, 6, 8, 11, 16, 23, 32]
M_GRID = [1, 2, 3, 5, 8, 13, 21]
DOF_GRID = [3, 4, 5, 6, 8]
OLD = {"estimator": "blend", "H": 11, "M": 3, "dof": 4}


def unix(day):
    return int(dt.datetime.strptime(day, "%Y-%m-%d").replace(
        tzinfo=dt.timezone.utc).timestamp())


def convert(shared, work):
    """Raw sets -> build/calibration/{binance,aave}/ASSET.csv."""
    out = {"binance": [], "aave": []}
    bdir = os.path.join(work, "binance")
    adir = os.path.join(work, "aave")
    os.makedirs(bdir, exist_ok=True)
    os.makedirs(adir, exist_ok=True)
    for a in BINANCE:
        src = os.path.join(shared, "binance-ohlc-1h", a + "USDT_1h.csv")
        dst = os.path.join(bdir, a + ".csv")
        with open(src, newline="") as f, open(dst, "w") as g:
            g.write("time,open,high,low,close\n")
            for row in csv.DictReader(f):
                g.write("%s,%s,%s,%s,%s\n" % (row["time"], row["open"],
                        row["high"], row["low"], row["close"]))
        out["binance"].append(dst)
    # Aave: about hourly samples, no highs or lows: the last sample of
    # each UTC hour as a flat candle (open = high = low = close).
    for a in AAVE:
        src = os.path.join(shared, "aave-hourly-prices-2021-2023",
                           a + "_usd.csv")
        last = {}
        with open(src, newline="") as f:
            for row in csv.DictReader(f):
                t = int(row["timestamp"]) // 1000
                p = float(row["USD_price"])
                if p > 0 and math.isfinite(p):
                    last[t - t % 3600] = repr(p)
        dst = os.path.join(adir, a + ".csv")
        with open(dst, "w") as g:
            g.write("time,open,high,low,close\n")
            for t in sorted(last):
                p = last[t]
                g.write("%d,%s,%s,%s,%s\n" % (t, p, p, p, p))
        out["aave"].append(dst)
    return out


def run(binary, files, est, H, M, dof, frm=None, to=None, horizons="1,7",
        svg=None):
    cmd = [binary, "backtest", "--estimator", est, "--half-life", str(H),
           "--mean-reversion", str(M), "--tail-dof", str(dof),
           "--horizons", horizons]
    if frm:
        cmd += ["--from", str(unix(frm))]
    if to:
        cmd += ["--to", str(unix(to))]
    if svg:
        cmd += ["--svg", svg]
    p = subprocess.run(cmd + files, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("calibrate: %s failed: %s" % (" ".join(cmd), p.stderr))
    return json.loads(p.stdout)


def pooled(rep):
    return [r for r in rep["results"] if r["asset"] == "pooled"]


def objective(rep):
    ls = [r["log_score"] for r in pooled(rep)]
    return sum(ls) / len(ls)


def tail_ratio(r, pmax=0.02):
    """Realised / predicted over the buckets with p < pmax."""
    o = e = 0.0
    for b in r["reliability"]:
        if b["hi"] <= pmax and b["n"]:
            o += b["n"] * b["rate"]
            e += b["n"] * b["mean_p"]
    return o / e if e > 0 else float("nan"), int(round(o)), e


def reliability(r):
    """Reliability term of the Brier decomposition (sum n (p - o)^2 / N)."""
    s = sum(b["n"] * (b["mean_p"] - b["rate"]) ** 2
            for b in r["reliability"] if b["n"])
    return s / r["n"] if r["n"] else float("nan")


def fit(binary, files, jobs):
    """Per estimator: the (H, M, dof) of the best fit-period score."""
    best = {}
    with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
        for est in ESTIMATORS:
            ms = [0] if est == "ewma" else M_GRID
            grid = [(H, M) for H in H_GRID for M in ms]
            futs = {ex.submit(run, binary, files, est, H, M or 1, 4,
                              FIT_FROM, SPLIT): (H, M) for H, M in grid}
            scores = {futs[f]: objective(f.result()) for f in futs}
            H, M = min(scores, key=scores.get)
            futs = {ex.submit(run, binary, files, est, H, M or 1, d,
                              FIT_FROM, SPLIT): d for d in DOF_GRID}
            dscores = {futs[f]: objective(f.result()) for f in futs}
            dof = min(dscores, key=dscores.get)
            best[est] = {"estimator": est, "H": H, "M": M or 1, "dof": dof,
                         "fit_score": dscores[dof], "grid": scores,
                         "dof_grid": dscores}
            print("calibrate: %s: H %g M %g dof %g (fit log score %.6f)"
                  % (est, H, M or 1, dof, dscores[dof]), file=sys.stderr)
    return best


def fmt(x, d=4):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return "%.*f" % (d, x)


def fmt_p(x):
    if x is None:
        return "-"
    return "%.2g" % x


def label(c):
    if c["estimator"] == "ewma":
        return "ewma H %g, dof %g" % (c["H"], c["dof"])
    return "%s H %g M %g, dof %g" % (c["estimator"], c["H"], c["M"],
                                     c["dof"])


def table(rows):
    """rows: (label, report) -> markdown lines."""
    out = ["| model | h | dir | n | Brier | log score | O/E | reliability "
           "| real./pred. p<2% | cov 1% | Kupiec | Chr. | cov 5% | Kupiec "
           "| Chr. |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for lab, rep in rows:
        for r in pooled(rep):
            c1, c5 = r["coverage"]
            tr, _, _ = tail_ratio(r)
            out.append("| %s | %d | %s | %d | %s | %s | %s | %s | %s | "
                       "%s | %s | %s | %s | %s | %s |" % (
                           lab, r["horizon_days"], r["direction"], r["n"],
                           fmt(r["brier"]), fmt(r["log_score"]),
                           fmt(r["oe"], 3), fmt(reliability(r), 6),
                           fmt(tr, 2),
                           fmt(100 * c1["rate"], 2) + "%", fmt_p(
                               c1["kupiec_p"]), fmt_p(c1["christoffersen_p"]),
                           fmt(100 * c5["rate"], 2) + "%", fmt_p(
                               c5["kupiec_p"]), fmt_p(c5["christoffersen_p"])))
    return out


def targets(rep):
    """The held-out targets: 1% coverage <= 1.25% and tail ratio <= 1.3."""
    lines = []
    for r in pooled(rep):
        c1 = r["coverage"][0]
        tr, o, e = tail_ratio(r)
        lines.append((r["horizon_days"], r["direction"], c1["rate"],
                      c1["rate"] <= 0.0125, tr, tr <= 1.3, o, e))
    return lines


def write_header(path, cfg, rep, source):
    rows = {}
    for r in pooled(rep):
        rows.setdefault(r["horizon_days"], {})[r["direction"]] = r
    body = []
    for h in sorted(rows):
        d, u = rows[h]["down"], rows[h]["up"]
        body.append("\t{ \"blend\", %s, %s, %s, %s, %s, %s,\n\t  %d },"
                    % (repr(float(cfg["H"])), repr(float(cfg["M"])),
                       repr(float(cfg["dof"])), repr(float(h)),
                       repr(d["oe"]), repr(u["oe"]), d["n"]))
    text = """/*
 * codec_calibration.h - what the backtest (docs/calibration.md) measured for
 * the service's volatility estimator, echoed by POST /v1/score in its
 * "calibration" object: per estimator, H, M, tail_dof and horizon, the
 * pooled O/E (observed / expected barrier hits over the thresholds 5, 10,
 * 15, 20, 30 %%) of each direction and the number of forecasts.
 *
 * GENERATED by `make calibration` (tools/calibrate.py): do not edit.  The
 * rows are the service defaults' figures on the held-out period (forecasts
 * from %s on, parameters fitted on 2018-2021).  A request whose
 * parameters match no row gets "backtest": null.
 *
 * Plain constant data, no code: included by codec_score.c only.
 */
#ifndef CASCADED_CODEC_CALIBRATION_H
#define CASCADED_CODEC_CALIBRATION_H

#include <stddef.h>

struct calibration_row {
	const char *estimator;
	double half_life_days, mean_reversion_days, tail_dof;
	double horizon_days;
	double oe_down, oe_up;
	size_t n;		/* forecasts per direction */
};

static const char calibration_source[] =
    "%s";

static const struct calibration_row calibration_rows[] = {
%s
};

#endif
""" % (SPLIT, source, "\n".join(body))
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get(
        "SHARED_DATA", os.path.join(ROOT, "..", "shared", "data")))
    ap.add_argument("--binary", default=os.path.join(ROOT, "build",
                                                     "cascaded"))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    work = os.path.join(ROOT, "build", "calibration")
    files = convert(args.shared, work)
    b, a = files["binance"], files["aave"]
    best = fit(args.binary, b, args.jobs)
    blend = best["blend"]
    old = dict(OLD)
    # held-out reports: each estimator at its fitted parameters, and the
    # previous defaults
    cands = [old] + [best[e] for e in ESTIMATORS]
    held, aave = [], []
    for c in cands:
        tag = c["estimator"] if c is not old else "previous"
        svg = os.path.join(ROOT, "docs", "img", "calibration-%s.svg" % tag)
        held.append((label(c), run(args.binary, b, c["estimator"], c["H"],
                                   c["M"], c["dof"], SPLIT, svg=svg)))
        aave.append((label(c), run(args.binary, a, c["estimator"], c["H"],
                                   c["M"], c["dof"], SPLIT)))
    oos = {lab: objective(rep) for lab, rep in held}
    winner = min(oos, key=oos.get)
    # the service's default: the blend at its fitted parameters
    dflt = run(args.binary, b, "blend", blend["H"], blend["M"], blend["dof"],
               SPLIT, horizons="1,7,30")
    write_header(os.path.join(ROOT, "service", "codec_calibration.h"),
                 blend, dflt, "cascaded backtest, Binance 1h BTC ETH LINK "
                 "SOL BNB, forecasts from %s" % SPLIT)
    json.dump({"best": {k: {x: v for x, v in c.items()
                            if x not in ("grid", "dof_grid")}
                        for k, c in best.items()},
               "held_out_log_score": oos, "winner": winner,
               "grids": {k: {"%g,%g" % hm: s for hm, s in c["grid"].items()}
                         for k, c in best.items()},
               "dof_grids": {k: {"%g" % d: s
                                 for d, s in c["dof_grid"].items()}
                             for k, c in best.items()},
               "held": {lab: rep for lab, rep in held},
               "aave": {lab: rep for lab, rep in aave}},
              open(os.path.join(work, "results.json"), "w"))
    print("calibrate: out-of-sample winner %s" % winner, file=sys.stderr)


if __name__ == "__main__":
    main()
