#!/usr/bin/python3
"""Straightforward numpy references of the model.

What a risk engineer would write instead of cascaded, from docs/model.md alone:

- exact: single-asset aave-v3 loans on one asset (docs/model.md 3.1 ladder, 4.1
  sequential cascade, 5.1 probabilities, 6 slippage) with np.interp for the
  curve, cumsum, minimum.accumulate, argsort, and scipy's Student-t;
- mc: a vectorised Monte Carlo of one coupled loan (docs/model.md 5.2: Student-t as
  a chi-square variance mixture, Cholesky-correlated steps, the Brownian
  bridge minimum of the loan's log health of 4.2 step 2);
- sim: a book of 1e4 perps and compound-v3 loans on five assets over the same
  paths, each asset's cascade of the book's triggers (docs/model.md 8.4).

Usage: ref_numpy.py FILE, FILE written by `bench_engine --ref-exact` or
`--ref-mc` or `--ref-sim` (inputs, the engine's answers and its median time).  Prints one
JSON line (speed ratio, agreement) and exits 1 when the two disagree:
exact figures beyond 1e-9 relative, Monte Carlo probabilities beyond 4
standard errors of their difference.
"""
import json
import math
import sys
import time

import numpy as np
from scipy.special import ndtr, stdtr

CAP = 1e4


# ---- exact ----------------------------------------------------------------

def impact(bps, qty, v):
    """impact(V) in bps (docs/model.md 2): generalized inverse of D, sqrt law beyond
    the last point, bid cap.  qty strictly increasing."""
    v = np.asarray(v, dtype=float)
    d = np.interp(v, np.concatenate(([0.0], qty)), np.concatenate(([0.0], bps)))
    beyond = v > qty[-1]
    d = np.where(beyond, bps[-1] * np.sqrt(np.maximum(v, 0.0) / qty[-1]), d)
    return np.minimum(d, CAP)


def impact_integral(bps, qty, v0, v1):
    """Integral of impact over [V0, V1], piece by piece over [V0, V1] only
    (docs/model.md 2): trapezoids on the linear segments it overlaps, the sqrt law's
    closed form beyond the last point, 1e4 per unit at the cap."""
    v0 = np.asarray(v0, dtype=float)[:, None]
    v1 = np.asarray(v1, dtype=float)[:, None]
    Q = np.concatenate(([0.0], qty))
    D = np.concatenate(([0.0], bps))
    a = np.maximum(v0, Q[None, :-1])
    b = np.minimum(v1, Q[None, 1:])
    lin = np.where(b > a, 0.5 * (np.interp(a, Q, D) + np.interp(b, Q, D)) *
                   (b - a), 0.0).sum(axis=1)
    v0, v1 = v0[:, 0], v1[:, 0]
    qn, dn = Q[-1], D[-1]
    vc = qn * (CAP / dn) ** 2          # where the sqrt law reaches the cap
    a = np.clip(v0, qn, vc)
    b = np.clip(v1, qn, vc)
    sq = (2.0 / 3.0) * dn * qn * ((b / qn) ** 1.5 - (a / qn) ** 1.5)
    capped = CAP * np.maximum(v1 - np.maximum(v0, vc), 0.0)
    return lin + sq + capped


def logret_cdf(x, sigma_h, nu):
    if nu == 0:
        return ndtr(x / sigma_h)
    return stdtr(nu, x / sigma_h * math.sqrt(nu / (nu - 2.0)))


def barrier_down(m, P, sigma_h, nu):
    m = np.asarray(m, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.minimum(1.0, 2.0 * logret_cdf(np.log(m / P), sigma_h, nu))
    p = np.where(m >= P, 1.0, p)
    return np.where(m > 0, p, 0.0)


def ladders(c, lt, d, P, full_below):
    """aave-v3 ladders of loans with one volatile collateral (c at LT) and
    stable debt d, vectorised over the loans: (prices, qtys, valid) of
    shape (nloans, 64)."""
    n = len(c)
    c, d = c.copy(), d.copy()
    bonus = np.minimum(0.05, 1.0 / lt - 1.0)
    d0 = d.copy()
    now = c * P * lt / d <= 1.0
    price = np.full((n, 64), np.nan)
    qty = np.full((n, 64), np.nan)
    active = np.ones(n, dtype=bool)
    for s in range(64):
        active &= (c > 0) & (d > 0)
        if not active.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            x = d / (c * lt)
        p = np.where(((s == 0) & now) | (x >= P), P, x)
        active &= p > 0
        cf = np.where((c * p < full_below) | (d < full_below), 1.0, 0.5)
        r = cf * d
        v = r * (1.0 + bonus)
        bad = v > c * p
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(bad | (v >= c * p), c, v / p)
        price[:, s] = np.where(active, p, np.nan)
        qty[:, s] = np.where(active, q, np.nan)
        ok = active & ~bad
        c = np.where(ok, c - q, c)
        d = np.where(ok, d - r, d)
        active = ok & ~(d < 1e-9 * d0)
    return price, qty, now


def score_exact(inp):
    bps = np.array(inp["curve_bps"])
    cq = np.array(inp["curve_qty"])
    P = inp["P"]
    nu = inp["nu"]
    sigma_h = inp["sigma"] * math.sqrt(inp["horizon_days"] / 365.0)
    lp = np.array(inp["level_price"])
    lq = np.array(inp["level_qty"])
    keep = lp < P                     # sell levels at or above P are stale
    lp, lq = lp[keep], lq[keep]
    c, lt, d = np.array(inp["coll"]), np.array(inp["lt"]), np.array(inp["debt"])
    sp, sq, now = ladders(c, lt, d, P, inp["full_liq_below"])
    valid = ~np.isnan(sp)
    nsteps = valid.sum(axis=1)
    first = np.concatenate(([0], np.cumsum(nsteps)[:-1]))  # in step order
    prices = np.concatenate((lp, sp[valid]))              # row-major: pos, step
    qtys = np.concatenate((lq, sq[valid]))
    order = np.argsort(-prices, kind="stable")            # ties: levels first
    prices, qtys = prices[order], qtys[order]
    S = np.concatenate(([0.0], np.cumsum(qtys)))
    g = 1.0 - impact(bps, cq, S) / CAP
    with np.errstate(divide="ignore"):
        t = np.where(g[:-1] > 0, prices / g[:-1], np.inf)
    m = np.minimum.accumulate(t)
    where = np.empty(len(order), dtype=np.int64)
    where[order] = np.arange(len(order))
    j = where[len(lp) + first]                           # first steps
    eff = np.where(now, P, m[j])
    static = d / (c * lt)
    p_liq = barrier_down(eff, P, sigma_h, nu)
    p_static = np.where(now, 1.0, barrier_down(static, P, sigma_h, nu))
    v0 = S[j]
    x0 = sq[:, 0]
    v1 = v0 + x0
    s0 = impact(bps, cq, v0)
    avg = impact_integral(bps, cq, v0, v1) / (v1 - v0)
    slip = np.where(s0 >= CAP, CAP, CAP * (avg - s0) / (CAP - s0))
    slip_q = slip / CAP * x0 * np.where(now, P, static)
    hit = np.nonzero(impact(bps, cq, S[1:]) >= inp["threshold_bps"])[0]
    trig = float(m[hit[0]]) if len(hit) else math.nan
    casc = float(barrier_down(trig, P, sigma_h, nu)) if len(hit) else 0.0
    p_any = float(barrier_down(np.max(eff), P, sigma_h, nu))
    return {"static_price": static, "effective_price": eff,
            "p_liquidation": p_liq, "p_liquidation_static": p_static,
            "expected_slippage_bps": slip, "expected_slippage_quote": slip_q,
            "cascade_trigger_price": trig, "cascade_probability": casc,
            "p_any_liquidation": p_any}


def check_exact(inp, out):
    eng = inp["engine"]
    worst, where = 0.0, None
    for key, mine in out.items():
        a = np.atleast_1d(np.asarray(eng[key], dtype=float))
        b = np.atleast_1d(np.asarray(mine, dtype=float))
        if a.shape != b.shape:
            return math.inf, key
        na, nb = np.isnan(a), np.isnan(b)
        if (na != nb).any():
            return math.inf, key
        a, b = a[~na], b[~nb]
        if not len(a):
            continue
        scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)
        rel = np.max(np.abs(a - b) / scale)
        if rel > worst:
            worst, where = float(rel), key
    return worst, where


# ---- Monte Carlo ----------------------------------------------------------

def mc_coupled(inp, seed=12345):
    """Share of paths on which the loan's health reaches 1 (docs/model.md 4.2 step 2
    with every Gamma = 1; 5.2 paths)."""
    rng = np.random.default_rng(seed)
    P = np.array(inp["P"])
    A = len(P)
    sig_h = np.array(inp["sigma"]) * math.sqrt(inp["horizon_days"] / 365.0)
    R = np.array(inp["rho"]).reshape(A, A)
    L = np.linalg.cholesky(R)
    cw = np.array(inp["coll"]) * P * np.array(inp["lt"])   # c_a P_a LT_a
    debt = inp["debt"]
    n, steps, nu = inp["paths"], inp["steps"], inp["nu"]
    scale = np.sqrt((nu - 2.0) / rng.chisquare(nu, n)) if nu else np.ones(n)
    s = sig_h[None, :] * scale[:, None] / math.sqrt(steps)  # step sigmas
    x = np.zeros((n, A))
    y0 = np.full(n, math.log(cw.sum()) - math.log(debt))
    liq = y0 <= 0.0
    top = np.nextafter(1.0, 0.0)
    for _ in range(steps):
        N = rng.standard_normal((n, A)) @ L.T
        Z = rng.standard_normal((n, A)) @ L.T
        x = x + s * N
        val = cw[None, :] * np.exp(x)
        tot = val.sum(axis=1)
        y1 = np.log(tot) - math.log(debt)
        ws = val / tot[:, None] * s                        # w_a s_a, all > 0
        sy2 = np.einsum("pa,ab,pb->p", ws, R, ws)
        V = (ws * Z).sum(axis=1)
        U = np.clip(ndtr(V / np.sqrt(sy2)), 1e-300, top)
        ymin = 0.5 * (y0 + y1 - np.sqrt((y1 - y0) ** 2 - 2.0 * sy2 * np.log(U)))
        liq |= ymin <= 0.0
        y0 = y1
    p = float(liq.mean())
    return p, math.sqrt(p * (1.0 - p) / n)


def sim_book(inp, seed=2024):
    """A book over correlated paths (docs/model.md 8.4): 5.2 paths with their
    Brownian-bridge minima and maxima, each asset's 4.1 cascade of the book's
    own triggers (no stored level), fills at e_j = m_j g(S_{j-1}) (8.2);
    a perp liquidates size x e, a compound-v3 loan its collateral x e with the
    shortfall max(0, debt - collateral x e) as bad debt.  Means of the
    per-path liquidated value and bad debt with their standard errors."""
    rng = np.random.default_rng(seed)
    P = np.array(inp["P"])
    A = len(P)
    sig_h = np.array(inp["sigma"]) * math.sqrt(inp["horizon_days"] / 365.0)
    L = np.linalg.cholesky(np.array(inp["rho"]).reshape(A, A))
    n, steps, nu = inp["paths"], inp["steps"], inp["nu"]
    scale = np.sqrt((nu - 2.0) / rng.chisquare(nu, n)) if nu else np.ones(n)
    s = sig_h[None, :] * scale[:, None] / math.sqrt(steps)
    x = np.zeros((n, A))
    lo, hi = np.zeros((n, A)), np.zeros((n, A))
    top = np.nextafter(1.0, 0.0)
    for _ in range(steps):
        N, Z, Zp = (rng.standard_normal((n, A)) @ L.T for _ in range(3))
        x1 = x + s * N
        d2 = (x1 - x) ** 2
        lnu = np.log(np.clip(ndtr(Z), 1e-300, top))
        lnup = np.log(np.clip(ndtr(Zp), 1e-300, top))
        lo = np.minimum(lo, 0.5 * (x + x1 - np.sqrt(d2 - 2 * s * s * lnu)))
        hi = np.maximum(hi, 0.5 * (x + x1 + np.sqrt(d2 - 2 * s * s * lnup)))
        x = x1
    kind, asset = np.array(inp["kind"]), np.array(inp["asset"])
    size, debt, liq = (np.array(inp[k]) for k in ("size", "debt", "liq"))
    value, bad, nliq = np.zeros(n), np.zeros(n), np.zeros(n)
    k99 = np.arange(1, 100, dtype=float)
    for a in range(A):
        unit = inp["curve_unit"] * 2000.0 / P[a]
        bps, qty = 100.0 * k99, unit * k99
        for up in (False, True):
            sel = (asset == a) & ((kind == 1) if up else (kind != 1))
            o = np.argsort(liq[sel] if up else -liq[sel], kind="stable")
            l, q = liq[sel][o], size[sel][o]
            S = np.concatenate(([0.0], np.cumsum(q)))[:-1]
            if up:
                im = np.interp(S, np.concatenate(([0.0], qty)),
                               np.concatenate(([0.0], bps)))
                im = np.where(S > qty[-1], bps[-1] * np.sqrt(S / qty[-1]), im)
                g = 1.0 + im / 1e4
                m = np.maximum.accumulate(l / g)
            else:
                g = 1.0 - impact(bps, qty, S) / 1e4
                with np.errstate(divide="ignore"):
                    m = np.minimum.accumulate(np.where(g > 0, l / g, np.inf))
            e = m * g
            loan = kind[sel][o] == 2
            val = q * e
            sh = np.where(loan, np.maximum(debt[sel][o] - q * e, 0.0), 0.0)
            cv = np.concatenate(([0.0], np.cumsum(val)))
            cb = np.concatenate(([0.0], np.cumsum(sh)))
            p = P[a] * np.exp(hi[:, a] if up else lo[:, a])
            k = (np.searchsorted(m, p, side="right") if up else
                 np.searchsorted(-m, -p, side="right"))
            value += cv[k]
            bad += cb[k]
            nliq += k
    out = {}
    for key, v in (("value", value), ("bad_debt", bad)):
        out[key] = float(v.mean())
        out[key + "_se"] = float(v.std(ddof=1) / math.sqrt(n))
    out["p_any"] = float((nliq > 0).mean())
    return out


def check_sim(inp, out):
    """z of each mean against the engine's (independent streams)."""
    eng, zs = inp["engine"], {}
    for key in ("value", "bad_debt"):
        sd = math.sqrt(eng[key + "_se"] ** 2 + out[key + "_se"] ** 2)
        zs[key] = abs(eng[key] - out[key]) / sd if sd > 0 else 0.0
    return zs


def timed(fn, reps):
    """(result, median wall ns, median process CPU ns)."""
    times, cpu = [], []
    out = None
    for _ in range(reps):
        t0, c0 = time.perf_counter_ns(), time.process_time_ns()
        out = fn()
        times.append(time.perf_counter_ns() - t0)
        cpu.append(time.process_time_ns() - c0)
    return out, float(np.median(times)), float(np.median(cpu))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: ref_numpy.py FILE")
    with open(sys.argv[1]) as f:
        inp = json.load(f)
    eng = inp["engine"]
    if inp["case"] == "exact":
        out, ns, cpu = timed(lambda: score_exact(inp), 21)
        err, key = check_exact(inp, out)
        ok = err <= 1e-9
        res = {"bench": "numpy_exact", "n": inp["npos"],
               "levels": len(inp["level_price"]),
               "numpy_median_ns": ns, "engine_median_ns": eng["median_ns"],
               "speedup": ns / eng["median_ns"], "numpy_cpu_ns": cpu,
               "engine_cpu_ns": eng["cpu_ns"],
               "speedup_cpu": cpu / eng["cpu_ns"], "max_rel_err": err,
               "worst_field": key, "agree": ok}
    elif inp["case"] == "sim":
        out, ns, cpu = timed(lambda: sim_book(inp), 3)
        zs = check_sim(inp, out)
        res = {"bench": "numpy_sim", "n": len(inp["liq"]),
               "paths": inp["paths"], "steps": inp["steps"],
               "threads": inp["threads"],
               "numpy_median_ns": ns, "engine_median_ns": eng["median_ns"],
               "speedup": ns / eng["median_ns"], "numpy_cpu_ns": cpu,
               "engine_cpu_ns": eng["cpu_ns"],
               "speedup_cpu": cpu / eng["cpu_ns"], "numpy": out,
               "engine": {k: eng[k] for k in ("value", "value_se",
                                              "bad_debt", "bad_debt_se",
                                              "p_any")},
               "z": zs, "agree": bool(max(zs.values()) <= 4.0)}
    else:
        (p, se), ns, cpu = timed(lambda: mc_coupled(inp), 3)
        tol_ok = True
        zs = {}
        for key, sek in (("p_liquidation", "std_error"),
                         ("p_liquidation_static", "std_error_static")):
            sd = math.sqrt(eng[sek] ** 2 + se ** 2)
            z = abs(eng[key] - p) / sd if sd > 0 else (0.0 if eng[key] == p else math.inf)
            zs[key] = z
            tol_ok &= z <= 4.0
        res = {"bench": "numpy_mc", "n": inp["paths"], "steps": inp["steps"],
               "assets": len(inp["P"]),
               "numpy_median_ns": ns, "engine_median_ns": eng["median_ns"],
               "speedup": ns / eng["median_ns"], "numpy_cpu_ns": cpu,
               "engine_cpu_ns": eng["cpu_ns"],
               "speedup_cpu": cpu / eng["cpu_ns"],
               "numpy_p": p, "numpy_se": se,
               "engine_p": eng["p_liquidation"], "engine_se": eng["std_error"],
               "engine_p_static": eng["p_liquidation_static"],
               "z": zs, "agree": bool(tol_ok)}
    print(json.dumps(res))
    if not res["agree"]:
        print("ref_numpy: ENGINE AND NUMPY DISAGREE on the %s case: %s" %
              (inp["case"], json.dumps(res)), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
