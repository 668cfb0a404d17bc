#!/usr/bin/python3
"""bench/page.py - the page's first score, end to end in the browser (a
row of `make bench`; bench/run.py calls run() and targets()).

Starts the seeded server on loopback (tools/serve-seeded.sh), then
bench/page_timing.mjs in Debian's chromium through playwright-core (the
package of tests/browser, installed there with `npm ci` when missing, as
tests/browser-test.sh does): PAGE_REPS (20) fresh page loads, each time
the builder's default loan added and Score clicked, timed inside the
page from the click to the positions table filled (dom) and to the next
frame after it (painted).  The row is the median of `painted`; its goal
is < 100 ms on loopback.  Without node, chromium or playwright-core the
row is skipped with the reason, not failed.

Alone: python3 bench/page.py prints the figures (build/cascaded first).
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "cascaded")
SCRIPT = os.path.join(ROOT, "bench", "page_timing.mjs")
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
REPS = int(os.environ.get("PAGE_REPS", "20"))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def _chromium():
    exe = os.environ.get("CHROMIUM", "")
    return exe or shutil.which("chromium") or shutil.which("chromium-browser")


def _playwright():
    """None when playwright-core is there (installed now if needed), else
    the reason it is not."""
    if os.path.isdir(os.path.join(BROWSER_DIR, "node_modules",
                                  "playwright-core")):
        return None
    if not shutil.which("npm"):
        return "npm is not installed"
    log("bench page: installing playwright-core (npm ci in tests/browser)")
    env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
    try:
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund",
                            "--loglevel=error"], cwd=BROWSER_DIR, env=env,
                           capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "npm ci failed: %r" % (e,)
    if r.returncode != 0:
        return "npm ci failed: " + (r.stderr.strip().splitlines() or [""])[-1]
    return None


def _serve(tmp):
    """The seeded server under a shell that stops it on TERM: (proc, port)."""
    sh = ('. "$0/tools/serve-seeded.sh"; serve_seeded "$1" "$2" || exit 1; '
          'trap \'kill -TERM $pid; wait $pid; exit 0\' TERM; echo "$port"; '
          'wait $pid')
    p = subprocess.Popen(["sh", "-c", sh, ROOT, BIN, tmp],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    if not line.isdigit():
        p.wait(timeout=10)
        raise RuntimeError("the seeded server did not start")
    return p, int(line)


def _stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def run(res, tmp):
    out = res["page"] = {"reps": REPS}
    why = None
    exe = _chromium()
    if not shutil.which("node"):
        why = "node is not installed"
    elif not exe:
        why = "chromium is not installed"
    else:
        why = _playwright()
    if why:
        out["skipped"] = why
        log("bench page: skipped: " + why)
        return
    d = tempfile.mkdtemp(prefix="page-", dir=tmp)
    srv = None
    try:
        srv, port = _serve(d)
        log("bench page: %d page loads in chromium" % REPS)
        r = subprocess.run(["node", SCRIPT, "http://127.0.0.1:%d" % port, exe,
                            str(REPS)], capture_output=True, text=True,
                           timeout=120 + 30 * REPS)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip() or "page_timing.mjs failed")
        m = json.loads(r.stdout)
    except Exception as e:
        res.setdefault("failures", []).append("page timing: %s" % (e,))
        out["error"] = str(e)
        return
    finally:
        if srv is not None:
            _stop(srv)
        shutil.rmtree(d, ignore_errors=True)
    p = sorted(m["painted_ms"])
    out.update({"browser": m.get("browser", ""),
                "painted_ms": m["painted_ms"], "dom_ms": m["dom_ms"],
                "median_ms": statistics.median(p),
                "p90_ms": p[min(len(p) - 1, int(0.9 * len(p)))],
                "dom_median_ms": statistics.median(m["dom_ms"])})


def targets(add, res):
    p = res.get("page")
    if not p:
        return
    what = ("page at /: first score, click to numbers shown (chromium, "
            "loopback, median of %d page loads" % p["reps"])
    if p.get("median_ms") is not None:
        what += "; p90 %.1f ms; table filled in %.1f ms" % (
            p["p90_ms"], p["dom_median_ms"])
    what += ")"
    if p.get("skipped") or p.get("error"):
        what += " (skipped: %s)" % (p.get("skipped") or "failed")
    add(what, p.get("median_ms"), None, "ms", "< 100", lambda v: v < 100)


if __name__ == "__main__":
    r = {}
    t = tempfile.mkdtemp(prefix="cascaded-bench-page-")
    try:
        run(r, t)
    finally:
        shutil.rmtree(t, ignore_errors=True)
    print(json.dumps(r, indent=1))
    sys.exit(1 if r.get("failures") else 0)
