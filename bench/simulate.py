"""POST /v1/books/{book}/simulate's engine (docs/model.md 8.4) in the bench.

run(res, tmp): `bench_engine --ref-sim FILE` (a book of 1e4 perps and
compound-v3 loans on five assets, 10 000 paths x 16 steps, 2 threads) and
bench/ref_numpy.py on the same book in numpy; the row goes to res["numpy"]
(a disagreement beyond 4 standard errors to res["failures"]).  The timing
rows books_sim_1e4_{1,2}t and books_sim_coupled_{park,nopark} come from
bench_engine itself (BENCH_ONLY=simulate).
targets(add, res): the < 5 s goal and the speed against numpy.
Alone: python3 bench/simulate.py (prints the numpy row).
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE = os.path.join(ROOT, "build", "bench", "bench_engine")
REF = os.path.join(ROOT, "bench", "ref_numpy.py")


def run(res, tmp):
    path = os.path.join(tmp, "sim.json")
    subprocess.run([ENGINE, "--ref-sim", path], check=True, timeout=600)
    r = subprocess.run(["/usr/bin/python3", REF, path], capture_output=True,
                       text=True, timeout=600)
    line = json.loads(r.stdout.strip().splitlines()[-1])
    res.setdefault("numpy", []).append(line)
    if r.returncode != 0 or not line["agree"]:
        res.setdefault("failures", []).append(
            "numpy and engine disagree (simulate): " + json.dumps(line))
    return line


def targets(add, res):
    for row in res.get("engine", []):
        if row["bench"] == "books_sim_1e4_2t":
            add("simulate a book of 1e4 positions, 5 assets, 10 000 x 16, "
                "2 threads", row["median_ns"] / 1e9, row["cpu_ns"] / 1e9,
                "s", "< 5", lambda v: v < 5)
    rows = {r["bench"]: r for r in res.get("engine", [])}
    pk, npk = rows.get("books_sim_coupled_park"), \
        rows.get("books_sim_coupled_nopark")
    if pk and npk:
        add("parking on a coupled book (3000 loans, 2000 paths x 16, 512 "
            "with BENCH_QUICK, 1 thread): time without / with",
            npk["median_ns"] / pk["median_ns"],
            npk["cpu_ns"] / pk["cpu_ns"], "x", ">= 1", lambda v: v >= 1)
    for row in res.get("numpy", []):
        if row["bench"] == "numpy_sim":
            add("speed vs numpy, simulate (the same book and paths)",
                row["speedup"], row["speedup_cpu"], "x", ">= 1",
                lambda v: v >= 1)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        print(json.dumps(run({}, d)))
    sys.exit(0)
