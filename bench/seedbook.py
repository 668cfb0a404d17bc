"""The seed's compound-v2 book through HTTP, as a user meets it after
`make run` (docs/books.md quotes these figures).

run(res, tmp): a seeded server (run.py's start_cascaded), then
- GET /v1/books/compound-v2/risk?asset=ETH (the book's levels merged with
  the 71 706 stored ETH levels), RISK_N requests one after another: the
  median and the 90th percentile of the wall time;
- POST /v1/books/compound-v2/simulate with {"paths": N} (N = 2000, 512
  with BENCH_QUICK; SEEDBOOK_PATHS=N sets it, e.g. 20000 for the
  default of the route), SIM_N runs: the median wall time and the server's
  CPU time per run (/proc), with paths_walked and loan_paths_skipped;
and the rows go to res["seedbook"].  targets(add, res): the rows, with
the books issue's risk goal (< 20 ms, set for a 1e5-position book) for
reference; simulate has no goal of its own.
Alone: python3 bench/seedbook.py (prints the rows).
"""
import json
import os
import sys
import tempfile
import time

import run as R  # bench/run.py (the same module object when run.py runs)

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
RISK_N = 10 if QUICK else 40
SIM_N = 2 if QUICK else 3
SIM_PATHS = int(os.environ.get("SEEDBOOK_PATHS") or (512 if QUICK else 2000))
BOOK = "/v1/books/compound-v2"


def _pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def run(res, tmp):
    R.log("== seed book: risk of ETH x %d, simulate %d paths x %d"
          % (RISK_N, SIM_PATHS, SIM_N))
    d = os.path.join(tmp, "seedbook")
    os.makedirs(d, exist_ok=True)
    srv, port, _ = R.start_cascaded(d)
    try:
        st, out = R.request(port, "GET", BOOK + "/risk?asset=ETH")
        if st != 200:
            raise RuntimeError("risk answered %d: %s" % (st, out[:300]))
        lat = []
        for _ in range(RISK_N):
            t0 = time.perf_counter()
            st, _ = R.request(port, "GET", BOOK + "/risk?asset=ETH")
            lat.append((time.perf_counter() - t0) * 1e3)
            if st != 200:
                raise RuntimeError("risk answered %d" % st)
        body = json.dumps({"paths": SIM_PATHS})
        wall, cpu, ans = [], [], None
        for _ in range(SIM_N):
            c0 = R.proc_cpu_s(srv.pid)
            t0 = time.perf_counter()
            st, out = R.request(port, "POST", BOOK + "/simulate", body,
                                timeout=600)
            wall.append(time.perf_counter() - t0)
            cpu.append(R.proc_cpu_s(srv.pid) - c0)
            if st != 200:
                raise RuntimeError("simulate answered %d: %s"
                                   % (st, out[:300]))
            a = json.loads(out)
            a.pop("as_of", None)
            if ans is not None and a != ans:
                res.setdefault("failures", []).append(
                    "seed book simulate: two runs of one body differ")
            ans = a
    finally:
        srv.terminate()
        srv.wait(timeout=30)
    row = {"risk_n": RISK_N, "risk_p50_ms": _pct(lat, 0.5),
           "risk_p90_ms": _pct(lat, 0.9), "sim_paths": SIM_PATHS,
           "sim_runs": SIM_N, "sim_median_s": sorted(wall)[len(wall) // 2],
           "sim_cpu_median_s": sorted(cpu)[len(cpu) // 2],
           "paths_walked": ans["paths_walked"],
           "loan_paths_skipped": ans["loan_paths_skipped"],
           "coupled_loans": ans["coupled_loans"]}
    res["seedbook"] = row
    R.log("seed book: risk p50 %.1f ms, p90 %.1f ms; simulate %d paths "
          "%.2f s (CPU %.2f s)" % (row["risk_p50_ms"], row["risk_p90_ms"],
                                   SIM_PATHS, row["sim_median_s"],
                                   row["sim_cpu_median_s"]))
    return row


def targets(add, res):
    r = res.get("seedbook")
    if not r:
        return
    add("seed book (8325 positions, 71 706 ETH levels): GET risk?asset=ETH "
        "p50 (p90 %.1f ms), %d requests" % (r["risk_p90_ms"], r["risk_n"]),
        r["risk_p50_ms"], None, "ms", "< 20", lambda v: v < 20)
    add("seed book: POST simulate %d paths x 16, 2 threads (no target; "
        "%d of %d paths walked)" % (r["sim_paths"], r["paths_walked"],
                                    r["sim_paths"]),
        r["sim_median_s"], r["sim_cpu_median_s"], "s", "-", None)


if __name__ == "__main__":
    out = {}
    with tempfile.TemporaryDirectory() as t:
        try:
            print(json.dumps(run(out, t)))
        finally:
            R.kill_all()
    sys.exit(0)
