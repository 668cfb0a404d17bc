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
              "rogers-satchell", "garch", "garch-parkinson"]
H_GRID = [2, 3, 4, 6, 8, 11, 16, 23]
M_GRID = [1, 2, 3, 5, 8, 13, 21]
DOF_GRID = [3, 4, 5, 6, 8]
# GARCH(1,1) per hour: news weight alpha, persistence phi = alpha + beta
GARCH_ALPHA = [0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05]
GARCH_PHI = [0.98, 0.99, 0.993, 0.995, 0.997, 0.998, 0.999]
# what it would take: tail_dof values tried per horizon
TAIL_DOF_GRID = [2.2, 2.5, 3, 4]
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
        svg=None, window=None, garch=None, scale=None):
    """One `cascaded backtest`; garch: (alpha, beta) or "fit"."""
    cmd = [binary, "backtest", "--estimator", est, "--half-life", str(H),
           "--mean-reversion", str(M), "--tail-dof", str(dof),
           "--horizons", horizons]
    if window:
        cmd += ["--window", str(window)]
    if garch == "fit":
        cmd += ["--garch", "fit"]
    elif garch:
        cmd += ["--garch", "%r,%r" % tuple(garch)]
    if scale:
        cmd += ["--sigma-scale", repr(scale)]
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


def run_cfg(binary, files, c, frm=None, to=None, **kw):
    """run() with a candidate's parameters."""
    return run(binary, files, c["estimator"], c["H"], c["M"], c["dof"], frm,
               to, window=c.get("window"), garch=c.get("garch"), **kw)


def pooled(rep):
    return [r for r in rep["results"] if r["asset"] == "pooled"]


def objective(rep):
    ls = [r["log_score"] for r in pooled(rep)]
    return sum(ls) / len(ls)


def tail_ratio(r, pmax=0.02):
    """Realised / predicted over the buckets with p < pmax (NaN: none)."""
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
            gar = est.startswith("garch")
            if gar:
                # (H, M) stand for (alpha, phi) here
                grid = [(a, f) for a in GARCH_ALPHA for f in GARCH_PHI
                        if a < f]
            else:
                grid = [(H, M) for H in H_GRID for M in ms]

            def gp(H, M):
                return (H, M - H) if gar else None
            futs = {ex.submit(run, binary, files, est, 2 if gar else H,
                              M or 1, 4, FIT_FROM, SPLIT,
                              garch=gp(H, M)): (H, M) for H, M in grid}
            scores = {futs[f]: objective(f.result()) for f in futs}
            H, M = min(scores, key=scores.get)
            if est == "ewma":
                scores = {(h, 1): v for (h, _), v in scores.items()}
            futs = {ex.submit(run, binary, files, est, 2 if gar else H,
                              M or 1, d, FIT_FROM, SPLIT,
                              garch=gp(H, M)): d for d in DOF_GRID}
            dreps = {futs[f]: f.result() for f in futs}
            dscores = {d: objective(r) for d, r in dreps.items()}
            byh = {}
            for d, r in dreps.items():
                for x in pooled(r):
                    byh.setdefault(x["horizon_days"], {}).setdefault(
                        d, []).append(x["log_score"])
            dof = min(dscores, key=dscores.get)
            if gar:
                best[est] = {"estimator": est, "H": 2, "M": 5, "dof": dof,
                             "garch": gp(H, M), "fit_score": dscores[dof],
                             "grid": scores, "dof_grid": dscores,
                             "dof_by_h": {}}
                print("calibrate: %s: alpha %g phi %g dof %g (fit log "
                      "score %.6f)" % (est, H, M, dof, dscores[dof]),
                      file=sys.stderr)
                continue
            best[est] = {"estimator": est, "H": H, "M": M or 1, "dof": dof,
                         "fit_score": dscores[dof], "grid": scores,
                         "dof_grid": dscores,
                         "dof_by_h": {h: {d: sum(v) / len(v)
                                          for d, v in m.items()}
                                      for h, m in byh.items()}}
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
    if c["estimator"].startswith("garch"):
        return "%s%s alpha %.4g beta %.4g, dof %g" % (
            c["estimator"], " (ML)" if c.get("ml") else "", c["garch"][0],
            c["garch"][1],
            c["dof"])
    if c["estimator"] == "realised":
        return "realised %g days, dof %g" % (c["window"], c["dof"])
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
                      c1["rate"] <= 0.0125, tr, not tr > 1.3, o, e))
    return lines


def write_header(path, cfg, rep, source, garch, gpk, ml):
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

/*
 * GARCH(1,1) per hour (cascade/vol.h), fitted on 2018-2021 by the
 * backtest's log score: `--estimator garch` (LC_VOL_GARCH_DEFAULT_*) and
 * `garch-parkinson` (LC_VOL_GARCH_PARKINSON_DEFAULT_*, what the service
 * shows in volatility_history.garch); and `garch` by maximum likelihood
 * (Student-t, tail_dof 4, one hour ahead).
 */
#define CALIBRATION_GARCH_ALPHA %r
#define CALIBRATION_GARCH_BETA %r
#define CALIBRATION_GARCH_PARKINSON_ALPHA %r
#define CALIBRATION_GARCH_PARKINSON_BETA %r
#define CALIBRATION_GARCH_ML_ALPHA %r
#define CALIBRATION_GARCH_ML_BETA %r

#endif
""" % (SPLIT, source, "\n".join(body), garch["garch"][0], garch["garch"][1],
       gpk["garch"][0], gpk["garch"][1], ml["garch"][0], ml["garch"][1])
    vh = open(os.path.join(ROOT, "include", "cascade", "vol.h")).read()
    for name, c in (("GARCH", garch), ("GARCH_PARKINSON", gpk)):
        for k, v in (("ALPHA", c["garch"][0]), ("BETA", c["garch"][1])):
            if "#define LC_VOL_%s_DEFAULT_%s %r\n" % (name, k, v) not in vh:
                print("calibrate: warning: set LC_VOL_%s_DEFAULT_%s to %r "
                      "in include/cascade/vol.h" % (name, k, v),
                      file=sys.stderr)
    with open(path, "w") as f:
        f.write(text)


def write_md(path, best, held, aave, oos, winner, blend, dflt, fitrep, mlc,
             wcfg, takes):
    L = []
    w = L.append
    w("# Calibration of the volatility model")
    w("")
    w("GENERATED by `make calibration` (tools/calibrate.py) from the public "
      "price sets; do not edit by hand.  Definitions of the estimators and "
      "of every metric: docs/volatility.md.")
    w("")
    w("## Method")
    w("")
    w("- Data: Binance hourly candles with true highs and lows (BTC, ETH, "
      "LINK, SOL, BNB against USDT, 2017-2026); second check: Aave v2 "
      "oracle prices sampled about hourly (WETH, WBTC, LINK, CRV, stETH, "
      "2021-01 to 2023-02), the last sample of each hour as a flat candle "
      "(no true lows: barrier hits between samples are missed).  Single-"
      "print wicks are kept (LINK traded at 0.0001 on 2020-03-12): a "
      "running minimum that reaches a level has reached it.")
    w("- Forecasts: every day at 00:00 UTC, horizons 1 and 7 days, "
      "thresholds 5, 10, 15, 20, 30 %, both directions "
      "(`cascaded backtest`).")
    w("- Fit: forecasts from %s to %s; the grid H in %s days, M in %s days "
      "at tail_dof 4, then tail_dof in %s at the best (H, M).  Criterion: "
      "the mean pooled log score over horizons 1 and 7 and both "
      "directions (a proper scoring rule: it rewards calibration and "
      "sharpness together)." % (FIT_FROM, SPLIT, H_GRID, M_GRID, DOF_GRID))
    w("- Report: forecasts from %s on, with the fitted parameters; the "
      "earlier candles are only the history the estimators read." % SPLIT)
    w("")
    w("## Fitted parameters (%s to %s)" % (FIT_FROM, SPLIT))
    w("")
    w("| estimator | H (days) | M (days) | tail_dof | fit log score |")
    w("|---|---|---|---|---|")
    for e in ESTIMATORS:
        c = best[e]
        if e.startswith("garch"):
            continue
        w("| %s | %g | %s | %g | %.6f |" % (
            e, c["H"], "-" if e == "ewma" else "%g" % c["M"], c["dof"],
            c["fit_score"]))
    w("")
    gb, gp = best["garch"], best["garch-parkinson"]
    w("GARCH(1,1) per hour (docs/volatility.md), fit period.  By the log "
      "score (like H and M) over the grid alpha in %s, phi = alpha + beta "
      "in %s at tail_dof 4, then tail_dof in %s: `garch` (close-to-close "
      "news) alpha %.4g, beta %.4g, tail_dof %g (fit log score %.6f); "
      "`garch-parkinson` (each candle's Parkinson variance as the news) "
      "alpha %.4g, beta %.4g, tail_dof %g (fit log score %.6f).  By "
      "maximum likelihood (`--garch fit`: Student-t, tail_dof 4, each "
      "hourly return given the variance before it, %d returns before %s, "
      "minus log-likelihood %.1f): alpha %.4g, beta %.4g (fit log score "
      "%.6f)." % (
          GARCH_ALPHA, GARCH_PHI, DOF_GRID, gb["garch"][0], gb["garch"][1],
          gb["dof"], gb["fit_score"], gp["garch"][0], gp["garch"][1],
          gp["dof"], gp["fit_score"], mlc["n"], SPLIT, mlc["nll"],
          mlc["garch"][0], mlc["garch"][1], mlc["fit_score"]))
    w("")
    for name, c in (("garch", gb), ("garch-parkinson", gp)):
        w("%s, fit log score by alpha (rows) and phi (columns), tail_dof 4 "
          "(persistence half-life ln 2 / -ln phi hours: " % name +
          ", ".join("%g: %.1f d" % (f, math.log(2) / -math.log(f) / 24)
                    for f in GARCH_PHI) + "):")
        w("")
        w("| alpha \\ phi | " + " | ".join("%g" % f for f in GARCH_PHI) +
          " |")
        w("|---" * (len(GARCH_PHI) + 1) + "|")
        for al in GARCH_ALPHA:
            w("| %g | " % al + " | ".join(
                "%.5f" % c["grid"][(al, f)] if (al, f) in c["grid"] else "-"
                for f in GARCH_PHI) + " |")
        w("")
    g = best["blend"]["grid"]
    w("Blend, fit log score by H (rows) and M (columns), tail_dof 4:")
    w("")
    w("| H \\ M | " + " | ".join("%g" % m for m in M_GRID) + " |")
    w("|---" * (len(M_GRID) + 1) + "|")
    for h in H_GRID:
        w("| %g | " % h + " | ".join("%.5f" % g[(h, m)] for m in M_GRID)
          + " |")
    w("")
    w("tail_dof at the blend's best (H, M): " + ", ".join(
        "%g: %.5f" % (d, best["blend"]["dof_grid"][d]) for d in DOF_GRID))
    w("")
    w("A horizon-dependent tail, tail_dof(h): the best tail_dof of each "
      "horizon alone (blend, fit period): " + "; ".join(
          "%d day%s: %g (%s)" % (
              h, "" if h == 1 else "s", min(m, key=m.get),
              ", ".join("%g: %.5f" % (d, m[d]) for d in DOF_GRID))
          for h, m in sorted(best["blend"]["dof_by_h"].items())) +
      ".  Where both horizons choose the same value a tail_dof(h) adds "
      "nothing.")
    w("")
    w("## Held out: Binance, forecasts from %s" % SPLIT)
    w("")
    w("Pooled over the five assets.  `reliability` is the reliability "
      "term of the Brier score's decomposition (sum over buckets of n (mean "
      "p - rate)^2 / N; 0 is perfect); `real./pred. p<2%` the realised "
      "over the predicted hits in the buckets below p = 2 %; `cov` the "
      "rate at which the running minimum (down) or maximum (up) passed "
      "the 1 % or 5 % quantile, on non-overlapping windows, with "
      "Kupiec's and Christoffersen's p-values.")
    w("")
    L.extend(table(held))
    w("")
    w("Mean held-out log score (lower is better): " + "; ".join(
        "%s %.6f" % (k, v) for k, v in sorted(oos.items(),
                                               key=lambda kv: kv[1])))
    w("")
    w("Reliability diagrams (held out): " + ", ".join(
        "[%s](img/calibration-%s.svg)" % (t, t) for t in
        ["previous"] + ESTIMATORS + ["garch-ml"]) + ".")
    w("")
    w("## Second check: Aave oracle prices, forecasts from %s" % SPLIT)
    w("")
    L.extend(table(aave))
    w("")
    w("## Targets on the held-out period")
    w("")
    w("Target: the 1 %% quantile of the running minimum breached at most "
      "1.25 %% of the time at 1 and 7 days, and realised / predicted at "
      "most 1.3 where the model says p < 2 %%.  Binance, forecasts from "
      "%s on (the 30-day rows of the service default are in "
      "service/codec_calibration.h as O/E only)." % SPLIT)
    w("")
    w("| model | h | dir | 1 % coverage | <= 1.25 % | real./pred. p<2% "
      "(hits / expected) | <= 1.3 |")
    w("|---|---|---|---|---|---|---|")
    winrep = dict(held)[winner]
    rows = [("service default: " + label(blend), dflt)]
    if winner != label(blend):
        rows.append(("best estimator: " + winner, winrep))
    for lab, rep in rows:
        for h, d, rate, ok1, tr, ok2, o, e in targets(rep):
            if h not in (1, 7):
                continue
            w("| %s | %d | %s | %.2f %% | %s | %s (%d / %.1f) | %s |" % (
                lab, h, d, 100 * rate, "yes" if ok1 else "**no**",
                fmt(tr, 2), o, e, "yes" if ok2 else "**no**"))
    w("")
    w("## What closing the down tail would take")
    w("")
    w("Within docs/model.md section 5 the law is symmetric: a larger "
      "sigma or a heavier tail raises down and up probabilities alike.  "
      "`k` is the smallest multiplier of sigma_h (`--sigma-scale`, a "
      "diagnostic of the backtest, not a service option) at which the "
      "held-out down target is met, found by bisection to 0.01; its cost "
      "is read at that k (up-move coverage and realised / predicted, and "
      "the horizon's mean log score against k = 1).  Then tail_dof alone "
      "at that horizon.")
    w("")
    for key, cfg in (("default", blend), ("winner", wcfg)):
        if key not in takes:
            continue
        w("%s (%s):" % ("Service default" if key == "default" else
                        "Held-out winner", label(cfg)))
        w("")
        w("| h | k for 1 % cov. <= 1.25 % | k for real./pred. <= 1.3 | up "
          "1 % cov. at k | up real./pred. at k | log score at k (k = 1) |")
        w("|---|---|---|---|---|---|")
        for h, x in sorted(takes[key].items()):
            cst = x["cost"]
            w("| %d | %s | %s | %s | %s | %s (%.5f) |" % (
                h, "> 4" if x["k_cov"] is None else "%.2f" % x["k_cov"],
                "> 4" if x["k_ratio"] is None else "%.2f" % x["k_ratio"],
                "-" if cst is None else "%.2f %%" % (100 * cst["up_cov"]),
                "-" if cst is None else fmt(cst["up_ratio"], 2),
                "-" if cst is None else "%.5f" % cst["log_score"],
                x["log_score"]))
        w("")
        w("| h | tail_dof | down 1 % cov. | down real./pred. p<2% | up 1 % "
          "cov. | log score |")
        w("|---|---|---|---|---|---|")
        for h, x in sorted(takes[key].items()):
            for d, y in sorted(x["dof"].items()):
                w("| %d | %g | %.2f %% | %s | %.2f %% | %.5f |" % (
                    h, d, 100 * y["down_cov"], fmt(y["down_ratio"], 2),
                    100 * y["up_cov"], y["log_score"]))
        w("")
    t = {(h, d): (rate, tr) for h, d, rate, _, tr, _, _, _ in
         targets(dflt)}
    w("## Verdict")
    w("")
    base_lab = [k for k in oos if k.startswith("realised 90")][0]
    w("- Defaults: the service keeps the horizon blend with the fitted "
      "H = %g days, M = %g days and tail_dof %g.  docs/model.md section 9 "
      "defines the service's history volatility as that blend; the "
      "range-based and GARCH estimators are selectable in the backtest "
      "(`--estimator`) and in the library (`lc_vol_range_*`, "
      "`lc_vol_garch_*`, both incremental), not in the service.  Held "
      "out, the default scores %.6f against %.6f for a 90-day realised "
      "volatility (lower is better), so it beats that baseline.  The grid "
      "stops at H = 2 days: the EWMA's effective number of hourly returns "
      "is about 69 H, and below 2 days it falls to the 72 returns the "
      "minimum-data rule asks for."
      % (blend["H"], blend["M"], blend["dof"], oos[label(blend)],
         oos[base_lab]))
    w("- Out of sample the best estimator is %s (mean log score %.6f "
      "against %.6f for the default and %.6f for the previous defaults).  "
      "The GARCH fitted by maximum likelihood (alpha %.4g, beta %.4g) "
      "scores %.6f: the likelihood rewards the next hour's return and "
      "picks a fast reaction to news that the 1- and 7-day forecasts "
      "punish; fitted by the score, the close-to-close GARCH reacts "
      "about %.0f times less to one hour's news and reverts to the long "
      "run with a half-life of %.1f days.%s" % (
          winner, oos[winner], oos[label(blend)], oos[label(OLD)],
          mlc["garch"][0], mlc["garch"][1], oos[label(mlc)],
          mlc["garch"][0] / gb["garch"][0],
          math.log(2) / -math.log(sum(gb["garch"])) / 24,
          "  The winner's edge over `garch` comes from the candles' lows "
          "and highs feeding its news (%.6f against %.6f)." % (
              oos[winner], oos[label(gb)])
          if winner.startswith("garch-parkinson") else ""))
    wt = {(h, d): (rate, tr) for h, d, rate, _, tr, _, _, _ in
          targets(winrep)}
    w("- Still miscalibrated: the down tail.  With the default, the 1 %% "
      "quantile of the running minimum is breached %.2f %% of the time at "
      "1 day and %.2f %% at 7 days (target 1.25 %%), and where the model "
      "says p < 2 %% down moves happen %.2f and %.2f times as often as "
      "predicted (target 1.3).  The held-out winner narrows it to %.2f %% "
      "and %.2f %% (realised / predicted %.2f and %.2f) and does not "
      "close it.  Up moves are the other way round (default: realised / "
      "predicted %.2f and %.2f, 1 %% coverage %.2f %% and %.2f %%)."
      % (100 * t[(1, "down")][0], 100 * t[(7, "down")][0],
         t[(1, "down")][1], t[(7, "down")][1],
         100 * wt[(1, "down")][0], 100 * wt[(7, "down")][0],
         wt[(1, "down")][1], wt[(7, "down")][1], t[(1, "up")][1],
         t[(7, "up")][1], 100 * t[(1, "up")][0], 100 * t[(7, "up")][0]))
    tk = takes.get("winner", takes["default"])

    def best_dof(h):
        """The tail_dof of the grid with the lowest down coverage at h."""
        d = min(tk[h]["dof"], key=lambda x: tk[h]["dof"][x]["down_cov"])
        return d, tk[h]["dof"][d]

    def meets(y):
        return y["down_cov"] <= 0.0125 and not y["down_ratio"] > 1.3
    d1, y1 = best_dof(1)
    d7, y7 = best_dof(7)
    w("- What it would take (previous section), with the winner: sigma_h "
      "times %s at 1 day and %s at 7 days for both down targets; at that "
      "multiplier the up moves' 1 %% coverage falls to %s and %s (target "
      "1 %%: over-predicted) and the horizon's log score goes from %.5f "
      "to %s at 1 day and from %.5f to %s at 7 days.  A heavier tail: at "
      "1 day tail_dof %g gives a down coverage of %.2f %% and realised / "
      "predicted %.2f (%s), up coverage %.2f %%; at 7 days the best "
      "tail_dof tried (%g) leaves %.2f %% and %.2f (%s).  The tail_dof of "
      "each horizon fitted on 2018-2021 is 4 for both (Fitted parameters "
      "above), so a horizon-dependent tail is not what the fit period "
      "asks for; a 1-day tail_dof below 4 would be chosen on the "
      "held-out years themselves." % (
          fmt(tk[1]["k"], 2), fmt(tk[7]["k"], 2),
          "-" if tk[1]["cost"] is None else
          "%.2f %%" % (100 * tk[1]["cost"]["up_cov"]),
          "-" if tk[7]["cost"] is None else
          "%.2f %%" % (100 * tk[7]["cost"]["up_cov"]),
          tk[1]["log_score"], "-" if tk[1]["cost"] is None else
          "%.5f" % tk[1]["cost"]["log_score"],
          tk[7]["log_score"], "-" if tk[7]["cost"] is None else
          "%.5f" % tk[7]["cost"]["log_score"],
          d1, 100 * y1["down_cov"], y1["down_ratio"],
          "both 1-day down targets met" if meets(y1) else "not met",
          100 * y1["up_cov"], d7, 100 * y7["down_cov"], y7["down_ratio"],
          "met" if meets(y7) else "not met"))
    w("- Why: the model's law (docs/model.md section 5) is symmetric and "
      "crypto's tails are not (crashes are faster than rallies, and the "
      "held-out years hold LUNA, Celsius, FTX and 2025-10-10): no "
      "volatility and no symmetric tail reaches the 7-day down target "
      "without over-predicting up moves.  Closing it needs a skewed law "
      "(a down-side sigma or tail of its own) in section 5, a contract "
      "change beyond this calibration.")
    f = {(h, d): (rate, tr) for h, d, rate, _, tr, _, _, _ in
         targets(fitrep)}
    a = {(h, d): (rate, tr) for h, d, rate, _, tr, _, _, _ in
         targets(dict(aave)[label(blend)])}
    w("- On the fit period itself the default's 1 %% down breach rates "
      "were %.2f %% (1 day) and %.2f %% (7 days), realised / predicted "
      "below p = 2 %%: %s and %s: the thin down tail is not an accident of "
      "the held-out years (which hold LUNA, FTX and 2025-10-10).  Compared "
      "with the previous H = 11, M = 3, the fitted values sharpen the "
      "forecasts (better held-out log score) at some cost in the held-out "
      "down tail (first table)." % (
          100 * f[(1, "down")][0], 100 * f[(7, "down")][0],
          fmt(f[(1, "down")][1], 2), fmt(f[(7, "down")][1], 2)))
    w("- On Aave's oracle prices the range estimators equal the blend "
      "(flat candles carry no range) and hits between hourly samples are "
      "missed, so its rates are lower bounds; the default's down breach "
      "rates there are %.2f %% (1 day) and %.2f %% (7 days), realised / "
      "predicted below p = 2 %%: %s and %s." % (
          100 * a[(1, "down")][0], 100 * a[(7, "down")][0],
          fmt(a[(1, "down")][1], 2), fmt(a[(7, "down")][1], 2)))
    w("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def needed_scale(binary, files, c, h, which, target):
    """Smallest sigma multiplier k in [1, 4] (to 0.01) at which the held-out
    down tail meets `target` at horizon h: which "cov" (1 % coverage) or
    "ratio" (realised / predicted below p 2 %).  None: not by 4."""
    def down(k):
        rep = run_cfg(binary, files, c, SPLIT, horizons=str(h), scale=k)
        r = [x for x in pooled(rep) if x["direction"] == "down"][0]
        return r["coverage"][0]["rate"] if which == "cov" else \
            tail_ratio(r)[0]
    lo, hi = 1.0, 4.0
    if down(lo) <= target:
        return 1.0
    if down(hi) > target:
        return None
    while hi - lo > 0.01:
        mid = 0.5 * (lo + hi)
        if down(mid) <= target:
            hi = mid
        else:
            lo = mid
    return hi


def what_it_takes(binary, files, c, jobs):
    """Per horizon: the sigma multipliers the down targets need (and what
    they cost: up coverage and log score at that multiplier), and the
    tail_dof grid at that horizon alone."""
    out = {}
    with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
        for h in (1, 7):
            fc = ex.submit(needed_scale, binary, files, c, h, "cov", 0.0125)
            fr = ex.submit(needed_scale, binary, files, c, h, "ratio", 1.3)
            dofs = {d: ex.submit(run_cfg, binary, files, dict(c, dof=d),
                                 SPLIT, horizons=str(h))
                    for d in TAIL_DOF_GRID}
            ks, kr = fc.result(), fr.result()
            k = max(ks or 9, kr or 9)
            cost = None
            if k < 9:
                rep = run_cfg(binary, files, c, SPLIT, horizons=str(h),
                              scale=k)
                P = {x["direction"]: x for x in pooled(rep)}
                cost = {"up_cov": P["up"]["coverage"][0]["rate"],
                        "up_ratio": tail_ratio(P["up"])[0],
                        "log_score": objective(rep)}
            base = objective(run_cfg(binary, files, c, SPLIT,
                                     horizons=str(h)))
            dd = {}
            for d, f in dofs.items():
                P = {x["direction"]: x for x in pooled(f.result())}
                dd[d] = {"down_cov": P["down"]["coverage"][0]["rate"],
                         "down_ratio": tail_ratio(P["down"])[0],
                         "up_cov": P["up"]["coverage"][0]["rate"],
                         "log_score": objective(f.result())}
            out[h] = {"k_cov": ks, "k_ratio": kr, "k": k if k < 9 else None,
                      "cost": cost, "log_score": base, "dof": dd}
    return out


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
    # GARCH by maximum likelihood on every candle before the split
    ml = run(args.binary, b, "garch", 2, 5, 4, SPLIT, garch="fit")["estimator"]
    mlc = {"estimator": "garch", "H": 2, "M": 5, "dof": 4, "ml": True,
           "garch": (ml["garch_alpha"], ml["garch_beta"]),
           "nll": ml["garch_fit_nll"], "n": ml["garch_fit_returns"]}
    print("calibrate: garch ML: alpha %g beta %g" % mlc["garch"],
          file=sys.stderr)
    mlc["fit_score"] = objective(run_cfg(args.binary, b, mlc, FIT_FROM,
                                         SPLIT))
    # held-out reports: each estimator at its fitted parameters, the
    # previous defaults and the baseline the defaults must beat: a 90-day
    # realised volatility
    base = {"estimator": "realised", "window": 90, "H": 11, "M": 3,
            "dof": 4}
    cands = [base, old] + [best[e] for e in ESTIMATORS] + [mlc]
    held, aave = [], []
    for c in cands:
        tag = "previous" if c is old else "garch-ml" if c is mlc else \
            c["estimator"]
        svg = os.path.join(ROOT, "docs", "img", "calibration-%s.svg" % tag)
        held.append((label(c), run_cfg(args.binary, b, c, SPLIT, svg=svg)))
        aave.append((label(c), run_cfg(args.binary, a, c, SPLIT)))
    oos = {lab: objective(rep) for lab, rep in held}
    winner = min(oos, key=oos.get)
    wcfg = [c for c in cands if label(c) == winner][0]
    # the service's default: the blend at its fitted parameters
    dflt = run(args.binary, b, "blend", blend["H"], blend["M"], blend["dof"],
               SPLIT, horizons="1,7,30")
    fitrep = run(args.binary, b, "blend", blend["H"], blend["M"],
                 blend["dof"], FIT_FROM, SPLIT)
    takes = {"default": what_it_takes(args.binary, b, blend, args.jobs)}
    if wcfg is not blend:
        takes["winner"] = what_it_takes(args.binary, b, wcfg, args.jobs)
    write_md(os.path.join(ROOT, "docs", "calibration.md"), best, held,
             aave, oos, winner, blend, dflt, fitrep, mlc, wcfg, takes)
    write_header(os.path.join(ROOT, "service", "codec_calibration.h"),
                 blend, dflt, "backtest: Binance 1h BTC ETH LINK SOL BNB, "
                 "%s on" % SPLIT, best["garch"], best["garch-parkinson"],
                 mlc)
    json.dump({"best": {k: {x: v for x, v in c.items()
                            if x not in ("grid", "dof_grid", "dof_by_h")}
                        for k, c in best.items()},
               "garch_ml": mlc, "takes": takes,
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
