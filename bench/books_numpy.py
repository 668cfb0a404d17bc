"""The books rows of bench_engine (docs/books.md, docs/model.md 8.1-8.3)
against the same work in numpy.

run(res, tmp): `bench_engine --ref-books FILE` runs the books section
(its rows books_derive, books_risk_51, books_top on stdout) and dumps the
book, ETH's stored levels, the top's keys and the engine's answers
(FILE and FILE.bin); then this file, under /usr/bin/python3 with numpy,
does the same three things on the same inputs:

- derive: the ladders (docs/model.md 3.1) of the 1e6 single-asset aave-v3
  loans, vectorised over positions one ladder step at a time (the
  operations of position.c's ladder_down, in its order), then per asset
  the non-stale sell levels in cascade order (price descending, ties by
  slot then rank: a stable argsort of the slot-major steps).  Checked:
  level and stale counts and quantity sums per asset (1e-9 relative), a
  sample of every 997th level (price, qty, slot, rank).
- risk: the 51-point grid of 8.2 on the first 1e5 positions (ETH, down,
  0 .. -50 %): the market's triggers (stored levels, then the book's, a
  stable merge), the cascade of 4.1 (t_j, m_k, k(p), F(p)), execution
  prices m_j g(S_{j-1}) (cascade) or l_j (static), P for stale steps, the
  replay of each loan's steps at those prices (3.1 mechanics), and per
  point liquidated_positions / _qty / _value / bad_debt with and without
  the cascade.  Checked: positions equal, the rest to 1e-9 relative, on
  the bench's query (where a 1 % shock already takes the price to 0: bad
  debt) and, untimed, on the same query at depth_scale 20 (a cascade that
  stops part way).
  The numpy book starts, like the engine's, from the derived ladders and
  each asset's sorted level order (lc_book_put / lc_book_flush's state).
- top: the 100 smallest of 1e5 keys (np.argpartition, then ties by id),
  against lc_book_top's ids.

One row per case in res["numpy_books"] (apart from res["numpy"], whose
table reads the fields of ref_numpy.py's rows): engine and numpy medians
(wall and process CPU, same run), speedup = numpy / engine; a
disagreement goes to res["failures"].  targets(add, res): "speed vs
numpy" per case.
Alone: BENCH_QUICK=1 python3 bench/books_numpy.py (prints the rows).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE = os.path.join(ROOT, "build", "bench", "bench_engine")
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")

# The bench's loans (bench_engine.c make_book_loans): aave-v3 defaults.
BONUS = min(0.05, 1.0 / 0.8 - 1.0)
CF0, FULL_LIQ_BELOW, DEBT_REL_STOP, MAX_STEPS = 0.5, 2000.0, 1e-9, 64


def run(res, tmp):
    path = os.path.join(tmp, "books.json")
    env = dict(os.environ)
    env.pop("BENCH_BOOKS", None)
    r = subprocess.run([ENGINE, "--ref-books", path], check=True,
                       timeout=900, capture_output=True, text=True, env=env)
    eng = {}
    for line in r.stdout.splitlines():
        row = json.loads(line)
        eng[row["bench"]] = row
    p = subprocess.run(["/usr/bin/python3", os.path.abspath(__file__),
                        "--ref", path, json.dumps(eng)],
                       capture_output=True, text=True, timeout=900)
    rows = [json.loads(x) for x in p.stdout.strip().splitlines()]
    res["numpy_books"] = rows
    if p.returncode != 0 or len(rows) != 3 or not all(x["agree"]
                                                      for x in rows):
        res.setdefault("failures", []).append(
            "numpy and engine disagree (books): %s %s" %
            (json.dumps(rows), p.stderr[-2000:]))
    return rows


def targets(add, res):
    what = {"numpy_books_derive": "derive the levels of 1e6 positions",
            "numpy_books_risk_51": "risk curve of 1e5 positions, 51 points",
            "numpy_books_top": "top 100 of 1e5 by effective distance"}
    for row in res.get("numpy_books", []):
        if row["bench"] in what:
            add("speed vs numpy, books: " + what[row["bench"]],
                row["speedup"], row["speedup_cpu"], "x", ">= 1",
                lambda v: v >= 1)


# ---- numpy (run under /usr/bin/python3) ---------------------------------

def timed(fn, runs):
    """Median wall and process CPU ns of fn() over runs calls, its value."""
    t, c, out = [], [], None
    for _ in range(runs):
        t0, c0 = time.perf_counter_ns(), time.process_time_ns()
        out = fn()
        t.append(time.perf_counter_ns() - t0)
        c.append(time.process_time_ns() - c0)
    t.sort()
    c.sort()
    return float(t[runs // 2]), float(c[runs // 2]), out


def ladders(np, coll, debt, lt, P):
    """position.c ladder_down for loans of one volatile collateral (coll
    units at lt) and one USDC debt, every position at once: (price, qty)
    as (n, steps) matrices, NaN past each ladder's end."""
    n = len(coll)
    q = 0.0 + coll
    qlt = 0.0 + coll * lt
    ds = 0.0 + debt * 1.0
    slt = np.where(q > 0.0, qlt / np.where(q > 0.0, q, 1.0), 0.0)
    now = (coll * P * lt) / debt <= 1.0
    d0 = ds.copy()
    live = np.ones(n, bool)
    pr, qt = [], []
    for k in range(MAX_STEPS):
        live &= (q > 0.0) & (ds > 0.0) & (slt > 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = (ds - 0.0) / (q * slt)
        p = np.where(((k == 0) & now) | (x >= P), P, x)
        live &= (p == P) | (x > 0.0)
        if not live.any():
            break
        cv = q * p + 0.0
        cf = np.where((cv < FULL_LIQ_BELOW) | (ds < FULL_LIQ_BELOW), 1.0,
                      CF0)
        r = cf * ds
        v = r * (1.0 + BONUS)
        bad = v > cv
        part = ~bad & (v < q * p)
        with np.errstate(divide="ignore", invalid="ignore"):
            qty = np.where(part, v / p, q)
        q = np.where(live, np.where(part, q - qty, 0.0), q)
        pr.append(np.where(live, p, np.nan))
        qt.append(np.where(live, qty, np.nan))
        ds = np.where(live & ~bad, ds - r, ds)
        live &= ~bad & ~(ds < DEBT_REL_STOP * d0)
    return np.stack(pr, axis=1), np.stack(qt, axis=1)


def sorted_levels(np, pr, qt, rows, P):
    """Non-stale levels of the rows' ladders in cascade order: price,
    qty, slot, rank, the stale count and the total (stale included)."""
    sp, sq = pr[rows], qt[rows]
    ok = ~np.isnan(sp)
    live = ok & (sp < P)
    slot = np.broadcast_to(rows[:, None], sp.shape)[live]
    rank = np.broadcast_to(np.arange(sp.shape[1]), sp.shape)[live]
    p, q = sp[live], sq[live]
    o = np.argsort(-p, kind="stable")
    return (p[o], q[o], slot[o], rank[o], int(ok.sum() - live.sum()),
            int(ok.sum()), float(sq[ok].sum()))


def derive(np, coll, debt, asset, P):
    pr, qt = ladders(np, coll, debt, 0.8, P[asset])
    return pr, qt, [sorted_levels(np, pr, qt, np.flatnonzero(asset == a),
                                  P[a]) for a in (0, 1)]


def impact(np, u, qk, dk):
    """docs/model.md 2: impact of u on the 99-point curve (+ (0, 0))."""
    lin = np.interp(u, qk, dk)
    out = np.minimum(dk[-1] * np.sqrt(u / qk[-1]), 1e4)
    return np.where(u <= qk[-1], lin, out)


def replay(np, coll, debt, E, exists):
    """book.c replay_simple for every position, steps in columns: the
    value seized per step and the account after it (a, b: bad debt at a
    final price F is max(0, a + b F))."""
    ca, da = 0.0 + coll, 0.0 + debt
    dead = np.zeros(len(coll), bool)
    val, A, B = (np.zeros(E.shape) for _ in range(3))
    for k in range(E.shape[1]):
        pa = E[:, k]
        go = exists[:, k] & ~dead
        cv = np.where(ca > 0.0, ca * pa, 0.0)
        dv = np.where(da > 0.0, da * 1.0, 0.0)
        go &= (cv > 0.0) & (dv > 0.0)
        cf = np.where((cv < FULL_LIQ_BELOW) | (dv < FULL_LIQ_BELOW), 1.0,
                      CF0)
        r = cf * dv
        v = r * (1.0 + BONUS)
        bad = v > cv
        v = np.where(bad, cv, v)
        r = np.where(bad, cv / (1.0 + BONUS), r)
        x = ca * pa
        with np.errstate(divide="ignore", invalid="ignore"):
            take = np.where(x <= v, ca, v / pa)
        ca = np.where(go, np.where(bad, 0.0, np.where((v > 0) & (x > 0),
                                                      ca - take, ca)), ca)
        xd = da * 1.0
        taked = np.where(xd <= r, da, r / 1.0)
        da = np.where(go & (r > 0) & (xd > 0), da - taked, da)
        val[:, k] = np.where(go, v, 0.0)
        dead |= exists[:, k] & ~(np.where(ca > 0.0, ca * pa, 0.0) > 0.0)
        A[:, k] = np.where(da > 0.0, da * 1.0, 0.0)
        B[:, k] = np.where(ca > 0.0, -ca, 0.0)
    return val, A, B


def risk(np, coll, debt, eth, pr, qt, lv, P, sp, sq, unit, scale, shocks):
    """8.2 on the rows 0..len(coll) of the book (eth: those on the asset),
    ETH, down, depth_scale `scale`."""
    n = len(coll)
    lp, lq, lslot, lrank = lv
    nl = len(lp)
    # the market's triggers: stored (not stale) then the book's, stable
    keep = sp < P
    mp = np.concatenate([sp[keep], lp])
    mq = np.concatenate([sq[keep], lq])
    o = np.argsort(-mp, kind="stable")
    mp, mq = mp[o], mq[o]
    j = np.empty(len(o), np.int64)
    j[o] = np.arange(1, len(o) + 1)
    j = j[keep.sum():]
    # the cascade of 4.1: g(S_k), t_j = l_j / g(S_{j-1}), m_k
    cum = np.concatenate([[0.0], np.cumsum(mq)])
    kk = np.arange(1, 100, dtype=float)
    qk = np.concatenate([[0.0], unit * kk])
    dk = np.concatenate([[0.0], 100.0 * kk])
    g = 1.0 - impact(np, cum / scale, qk, dk) / 1e4
    with np.errstate(divide="ignore"):
        t = np.where(g[:-1] > 0.0, mp / np.where(g[:-1] > 0, g[:-1], 1),
                     np.inf)
    m = np.concatenate([[np.inf], np.minimum.accumulate(t)])
    # execution prices per ladder step: stale at P, levels by mode
    steps = pr[:n]
    R = steps.shape[1]
    exists = ~np.isnan(steps) & eth[:, None]
    lvl = np.full(steps.shape, -1, np.int64)   # -1: stale (or none)
    lvl[lslot, lrank] = np.arange(nl)
    E0 = np.where(exists, P, 0.0)
    E1 = E0.copy()
    E0[lslot, lrank] = m[j] * g[j - 1]
    E1[lslot, lrank] = lp
    stale = exists & (lvl < 0)
    nst = stale.sum(axis=1)
    srow = np.flatnonzero(nst)
    # a level's next level in its ladder, a stale position's first level
    # (BIG: none); the entry (a, b) after a step counts at a point while
    # it is its position's last happening step: h in [lo, hi)
    BIG = np.iinfo(np.int64).max // 2
    nxt = np.full(nl, BIG)
    hn = np.flatnonzero(lrank + 1 < R)
    nv = lvl[lslot[hn], lrank[hn] + 1]
    nxt[hn] = np.where(nv >= 0, nv, BIG)
    first = np.full(len(srow), BIG)
    hf = np.flatnonzero(nst[srow] < R)
    fv = lvl[srow[hf], nst[srow[hf]]]
    first[hf] = np.where(fv >= 0, fv, BIG)
    lo = np.concatenate([np.arange(1, nl + 1), np.zeros(len(srow), int)])
    hi = np.concatenate([nxt, first]) + 1
    pre_q = np.concatenate([[0.0], np.cumsum(lq)])
    pre_first = np.concatenate([[0], np.cumsum(lrank == 0)])
    stale_q = qt[:n][stale].sum()
    # the points: k(p), F(p), the happening levels h per mode
    ps = P * (1.0 + np.asarray(shocks))
    ks = np.searchsorted(-m[1:], -ps, side="right")
    Fs = ps * g[ks]
    hs = (np.searchsorted(j, ks, side="right"),
          np.searchsorted(-lp, -ps, side="right"))
    figs = []
    for mode, E in enumerate((E0, E1)):
        val, A, B = replay(np, coll, debt, E, exists)
        pre_v = np.concatenate([[0.0], np.cumsum(val[lslot, lrank])])
        stale_v = val[stale].sum()
        ea = np.concatenate([A[lslot, lrank], A[srow, nst[srow] - 1]])
        eb = np.concatenate([B[lslot, lrank], B[srow, nst[srow] - 1]])
        f = Fs if mode == 0 else ps
        # only entries owing something somewhere on the grid (a + b F
        # is monotone in F)
        c = (ea + eb * f.min() > 0.0) | (ea + eb * f.max() > 0.0)
        ca, cb, clo, chi = ea[c], eb[c], lo[c], hi[c]
        rows = []
        for h, F in zip(hs[mode], f):
            on = (clo <= h) & (h < chi)
            bd = np.maximum(ca[on] + cb[on] * F, 0.0).sum()
            rows.append([int(len(srow) + pre_first[h]),
                         float(stale_q + pre_q[h]),
                         float(stale_v + pre_v[h]), float(bd)])
        figs.append(rows)
    return [{"shocked_price": float(ps[i]), "final_price": float(Fs[i]),
             "cascade": figs[0][i], "static": figs[1][i]}
            for i in range(len(ps))]


def close(a, b, rel=1e-9, floor=0.0):
    return abs(a - b) <= rel * max(abs(a), abs(b)) + floor


def numpy_main(path, eng):
    import numpy as np
    d = json.load(open(path))
    raw = np.fromfile(path + ".bin", dtype="<f8")
    N, ns, nk = d["derive"]["n"], d["risk"]["stored"], d["top"]["n"]
    asset = raw[:N].astype(np.int64)
    coll, debt = raw[N:2 * N], raw[2 * N:3 * N]
    sp, sq = raw[3 * N:3 * N + ns], raw[3 * N + ns:3 * N + 2 * ns]
    keys = raw[3 * N + 2 * ns:3 * N + 2 * ns + nk]
    P = np.array(d["derive"]["P"])
    runs = 3 if QUICK else 5
    rows = []

    def row(name, n, t, c, agree, **kw):
        e = eng[name[len("numpy_"):]]
        x = {"bench": name, "n": n, "engine_ns": e["median_ns"],
             "engine_cpu_ns": e["cpu_ns"], "numpy_ns": t, "numpy_cpu_ns": c,
             "speedup": t / e["median_ns"], "speedup_cpu": c / e["cpu_ns"],
             "agree": bool(agree)}
        x.update(kw)
        rows.append(x)
        print(json.dumps(x), flush=True)

    # derive
    t, c, (pr, qt, lv) = timed(lambda: derive(np, coll, debt, asset, P),
                               runs)
    ok, worst = True, 0.0
    for a in (0, 1):
        want, got = d["derive"]["assets"][a], lv[a]
        ok &= (len(got[0]) == want["levels"] and got[4] == want["stale"]
               and got[5] == want["total_count"])
        s = float(got[1].sum())
        worst = max(worst, abs(s / want["qty"] - 1),
                    abs(got[6] / want["total_qty"] - 1))
        for i, lp, lq, slot, rank in want["sample"]:
            ok &= bool(close(got[0][i], lp) and close(got[1][i], lq) and
                       got[2][i] == slot and got[3][i] == rank)
    row("numpy_books_derive", N, t, c, ok and worst <= 1e-9,
        levels=[len(x[0]) for x in lv], max_rel_err_qty=worst)

    # risk: the first npos positions, ETH, the engine's grid
    rk = d["risk"]
    n = rk["npos"]
    shocks = [x["shock"] for x in rk["points"]]
    sub = (pr[:n], qt[:n])

    # the book's state, as lc_book_put + lc_book_flush leave it: the
    # ladders and ETH's sorted levels (derive's order, restricted)
    eth = asset[:n] == 0
    lv0 = sorted_levels(np, sub[0], sub[1], np.flatnonzero(eth), P[0])[:4]
    args = (np, coll[:n], debt[:n], eth, sub[0], sub[1], lv0, P[0], sp, sq,
            rk["curve_unit"])
    t, c, pts = timed(lambda: risk(*args, 1.0, shocks), runs)
    deep = risk(*args, rk["deep_scale"], shocks)
    ok, worst = True, 0.0
    for got, want in zip(pts + deep, rk["points"] + rk["deep"]):
        ok &= close(got["shocked_price"], want["shocked_price"])
        ok &= close(got["final_price"], want["final_price"])
        for mode in ("cascade", "static"):
            g, w = got[mode], want[mode]
            ok &= g[0] == w[0]
            scale = max(abs(w[2]), 1.0)
            for x, y in zip(g[1:], w[1:]):
                worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-300))
                ok &= close(x, y, floor=1e-12 * scale)
    ok &= len(pts) == len(rk["points"]) and len(deep) == len(rk["deep"])
    row("numpy_books_risk_51", n, t, c, ok, points=len(pts),
        max_rel_err=worst,
        deep_at_minus_10pct=deep[10])

    # top 100 of the keys by (key, id)
    def top():
        cand = np.argpartition(keys, 99)[:100]
        return cand[np.lexsort((cand, keys[cand]))]
    t, c, ids = timed(top, 5 * runs)
    row("numpy_books_top", nk, t, c, list(ids) == d["top"]["ids"])
    return 0 if all(x["agree"] for x in rows) else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--ref":
        sys.exit(numpy_main(sys.argv[2], json.loads(sys.argv[3])))
    with tempfile.TemporaryDirectory() as tmpd:
        out = {}
        for x in run(out, tmpd):
            print(json.dumps(x))
        for f in out.get("failures", []):
            print(f, file=sys.stderr)
    sys.exit(1 if out.get("failures") else 0)
