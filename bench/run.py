#!/usr/bin/python3
"""bench/run.py - the benchmark driver behind `make bench` (bench/run.sh).

Runs, on this machine, in this order:
  1. the in-process engine benchmarks (build/bench/bench_engine), the
     chart routes among them;
  2. the numpy references (bench/ref_numpy.py) on the engine's inputs:
     speed ratio and cross-check (fails loudly on disagreement);
  3. HTTP: cascaded against nginx (a throwaway config in a temp dir) with
     wrk on loopback, rotated order, ROUNDS rounds of SECS seconds, every
     comparison a ratio within the same round;
  4. memory (VmHWM / VmRSS of the server idle, under wrk, after loading
     1e6 liquidation levels) and the depth-write visibility latency.
  5. the page's first score in chromium (bench/page.py).
Writes bench/results.json and prints the table (--table FILE reprints it;
--markdown FILE prints the README table).

Environment: BENCH_ROUNDS (3), BENCH_SECONDS (10), BENCH_QUICK=1 (1 round
of 2 s, fewer engine runs, 2e5 levels instead of 1e6: script check only).
Everything listens on 127.0.0.1; every wait is bounded; every process
started here is killed on exit.
"""
import datetime
import http.client
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# The bench modules below use this file's helpers as `import run`: let
# them share this very module (one PROCS list, killed at exit), not a
# second copy of it.
sys.modules.setdefault("run", sys.modules[__name__])
import page as bench_page  # bench/page.py: the page in chromium
import calib as bench_calib  # bench/calib.py: price history
import simulate as bench_simulate  # bench/simulate.py: POST /v1/books/{book}/simulate
import cluster as bench_cluster  # bench/cluster.py: the message-bus rows
import books_numpy as bench_books_numpy  # bench/books_numpy.py: books vs numpy
import seedbook as bench_seedbook  # bench/seedbook.py: the seed book over HTTP

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "cascaded")
ENGINE = os.path.join(ROOT, "build", "bench", "bench_engine")
REF = os.path.join(ROOT, "bench", "ref_numpy.py")
PY = "/usr/bin/python3"
OUT = os.path.join(ROOT, "bench", "results.json")

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1" if QUICK else "3"))
SECS = int(os.environ.get("BENCH_SECONDS", "2" if QUICK else "10"))
LEVELS_TOTAL = 200000 if QUICK else 1000000
LEVELS_PER_POST = 100000

PROCS = []          # every process started here, killed at exit


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def kill_all():
    for p in PROCS:
        if p.poll() is None:
            try:
                p.terminate()
                p.wait(timeout=10)
            except Exception:
                p.kill()
                p.wait(timeout=5)


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


# ---- helpers ----------------------------------------------------------------

def median(v):
    v = [x for x in v if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return statistics.median(v) if v else None


def growth(points):
    """Slope of log(time) against log(size): the growth exponent."""
    pts = [(n, t) for n, t in points if n > 0 and t > 0]
    if len(pts) < 2:
        return None
    xs = [math.log(n) for n, _ in pts]
    ys = [math.log(t) for _, t in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    except OSError:
        pass

    def ver(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except Exception:
            return ""
    import numpy
    import scipy
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": model,
            "memory": mem, "kernel": platform.release(),
            "load_avg_at_start": os.getloadavg(),
            "nginx": ver(["nginx", "-v"]), "wrk": ver(["wrk", "-v"]),
            "numpy": numpy.__version__, "scipy": scipy.__version__,
            "date": datetime.datetime.now(datetime.timezone.utc)
            .strftime("%Y-%m-%dT%H:%M:%SZ")}


def proc_mem(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmHWM", "VmRSS")):
                k, v = line.split(":")
                out[k] = int(v.split()[0])      # kB
    return out


def proc_cpu_s(pid, children=False):
    """utime + stime of pid (all its threads), plus its direct children's
    when children is set (nginx workers), in seconds."""
    tck = os.sysconf("SC_CLK_TCK")

    def one(path):
        with open(path) as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return int(rest[1]), (int(rest[11]) + int(rest[12])) / tck
    total = one("/proc/%d/stat" % pid)[1]
    if children:
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    ppid, cpu = one("/proc/%s/stat" % d)
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == pid:
                    total += cpu
    return total


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, secs=10):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("process exited early (%s)" % proc.args)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d never opened" % port)


def request(port, method, path, body=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        hdr = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, path, body=body, headers=hdr)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# ---- 1. engine --------------------------------------------------------------

def run_engine(res):
    log("== engine (in process)")
    r = subprocess.run([ENGINE], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError("bench_engine failed: " + r.stderr)
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    for row in rows:
        log("   %-24s n=%-8d %14.1f ns  %.4g %s/s" % (
            row["bench"], row["n"], row["median_ns"], row["per_sec"],
            row["unit"]))
    res["engine"] = rows
    fams = {}
    for row in rows:
        fams.setdefault(row["bench"], []).append((row["n"], row["median_ns"]))
    res["growth"] = {k: growth(v) for k, v in fams.items() if len(v) > 1}


# ---- 2. numpy ---------------------------------------------------------------

def run_numpy(res, tmp):
    log("== numpy references")
    out = []
    cases = [("--ref-exact", "exact10.json", "10"),
             ("--ref-exact", "exact100.json", "100"),
             ("--ref-mc", "mc.json", None)]
    for flag, name, arg in cases:
        path = os.path.join(tmp, name)
        cmd = [ENGINE, flag, path] + ([arg] if arg else [])
        subprocess.run(cmd, check=True, timeout=600)
        r = subprocess.run([PY, REF, path], capture_output=True, text=True,
                           timeout=600)
        line = json.loads(r.stdout.strip().splitlines()[-1])
        out.append(line)
        log("   %s n=%s: numpy %.3g ms, engine %.3g ms, %.1fx, agree=%s" % (
            line["bench"], line["n"], line["numpy_median_ns"] / 1e6,
            line["engine_median_ns"] / 1e6, line["speedup"], line["agree"]))
        if r.returncode != 0 or not line["agree"]:
            res["failures"].append("numpy and engine disagree: " +
                                   json.dumps(line))
            log(r.stderr)
    res["numpy"] = out


# ---- 3. HTTP ----------------------------------------------------------------

def score_bodies(seed):
    """Bodies of the HTTP scenarios, on the seed's assets."""
    px = {m["asset"]: m["body"]["price"] for m in seed["markets"]}
    one = {"positions": [{
        "id": "loan-1", "type": "loan", "protocol": "aave-v3",
        "collateral": [{"asset": "ETH", "amount": 10,
                        "liquidation_threshold": 0.83}],
        "debt": [{"asset": "USDC", "amount": 15000}]}]}
    book = {"positions": []}
    for i in range(50):
        liq = px["ETH"] * (0.95 - 0.4 * (i + 0.5) / 50)   # 55%..95% of P
        book["positions"].append({
            "id": "loan-%d" % i, "type": "loan", "protocol": "aave-v3",
            "collateral": [{"asset": "ETH", "amount": 5 + i % 7,
                            "liquidation_threshold": 0.83}],
            "debt": [{"asset": "USDC",
                      "amount": round((5 + i % 7) * 0.83 * liq, 2)}]})
    coll = [("ETH", 20000 / px["ETH"], 0.83), ("BTC", 20000 / px["BTC"], 0.78),
            ("LINK", 20000 / px["LINK"], 0.7)]
    w = sum(a * px[s] * lt for s, a, lt in coll)
    mc = {"positions": [{
        "id": "coupled-1", "type": "loan", "protocol": "aave-v3",
        "collateral": [{"asset": s, "amount": round(a, 8),
                        "liquidation_threshold": lt} for s, a, lt in coll],
        "debt": [{"asset": "USDC", "amount": round(w / 1.3, 2)}]}]}
    return [("healthz", "GET", "/healthz", None),
            ("score_one_loan", "POST", "/v1/score", json.dumps(one)),
            ("score_book_50", "POST", "/v1/score", json.dumps(book)),
            ("score_coupled_mc", "POST", "/v1/score", json.dumps(mc))]


LUA = r"""
wrk.method = "%(method)s"
%(body)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\": %%d, \"duration_us\": %%d, \"status_errors\": %%d, " ..
    "\"connect\": %%d, \"read\": %%d, \"write\": %%d, \"timeout\": %%d, " ..
    "\"p50_us\": %%d, \"p90_us\": %%d, \"p99_us\": %%d, \"max_us\": %%d}\n",
    summary.requests, summary.duration, e.status, e.connect, e.read,
    e.write, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def lua_script(path, method, body):
    b = ""
    if body is not None:
        b = ('wrk.headers["Content-Type"] = "application/json"\n'
             'wrk.body = [==[%s]==]\n' % body)
    with open(path, "w") as f:
        f.write(LUA % {"method": method, "body": b})


def run_wrk(port, path, lua, secs):
    cmd = ["wrk", "-t2", "-c64", "-d%ds" % secs, "--timeout", "5s", "-s", lua,
           "http://127.0.0.1:%d%s" % (port, path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60)
    for line in r.stdout.splitlines():
        if line.startswith("WRKJSON "):
            d = json.loads(line[8:])
            dur = d["duration_us"] / 1e6
            d["rps"] = d["requests"] / dur
            d["ok_rps"] = (d["requests"] - d["status_errors"]) / dur
            return d
    raise RuntimeError("wrk failed: %s %s" % (r.stdout, r.stderr))


def nginx_conf(tmp, port, answers):
    # nginx config tokens are at most 4 KB: long answers are built from a
    # 2000-byte variable (set once per request, then copied).
    pad_locs = ["        set $pad2k '%s';" % ("x" * 2000)]
    for name, size in answers.items():
        n = max(0, size - len('{"pad":""}'))
        filler = "${pad2k}" * (n // 2000) + "x" * (n % 2000)
        pad_locs.append("        location = /%s { return 200 '{\"pad\":\"%s\"}'; }"
                        % (name, filler))
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    return """
worker_processes 2;
daemon off;
master_process on;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx-error.log warn;
%(user)s
events { worker_connections 4096; }
http {
    access_log %(tmp)s/nginx-access.log;
    client_body_temp_path %(tmp)s/nginx-body;
    proxy_temp_path %(tmp)s/nginx-proxy;
    fastcgi_temp_path %(tmp)s/nginx-fastcgi;
    uwsgi_temp_path %(tmp)s/nginx-uwsgi;
    scgi_temp_path %(tmp)s/nginx-scgi;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_max_body_size 16m;
    client_body_buffer_size 1m;
    default_type application/json;
    server {
        listen 127.0.0.1:%(port)d;
%(locs)s
    }
}
""" % {"tmp": tmp, "port": port, "user": user, "locs": "\n".join(pad_locs)}


def start_cascaded(tmp):
    db = os.path.join(tmp, "cascaded.db")
    for sub in ("migrate", "seed"):
        subprocess.run([BIN, sub, "--db", db], check=True, timeout=60,
                       stdout=subprocess.DEVNULL)
    logpath = os.path.join(tmp, "cascaded.log")
    logf = open(logpath, "ab")      # O_APPEND: truncating it is safe
    p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--db", db],
                         stdout=subprocess.DEVNULL, stderr=logf,
                         start_new_session=True)
    PROCS.append(p)
    end = time.monotonic() + 15
    while time.monotonic() < end:
        if p.poll() is not None:
            raise RuntimeError("cascaded exited: " + open(logpath).read())
        with open(logpath) as f:
            for line in f:
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                if d.get("msg") == "listening":
                    port = int(d["listen"].rsplit(":", 1)[1])
                    wait_port(port, p)
                    return p, port, logpath
        time.sleep(0.05)
    raise RuntimeError("cascaded did not log its listen address")


def start_nginx(tmp, answers):
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(nginx_conf(tmp, port, answers))
    p = subprocess.Popen(["nginx", "-p", tmp, "-c", conf, "-e",
                          os.path.join(tmp, "nginx-error.log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    PROCS.append(p)
    try:
        wait_port(port, p)
    except RuntimeError:
        with open(os.path.join(tmp, "nginx-error.log")) as f:
            log(f.read())
        raise
    return p, port


def run_http(res, tmp):
    log("== HTTP: wrk -t2 -c64 -d%ds, %d rounds, rotated order" % (SECS, ROUNDS))
    with open(os.path.join(ROOT, "data", "seed.json")) as f:
        seed = json.load(f)
    srv, port, logpath = start_cascaded(tmp)
    time.sleep(0.5)
    request(port, "GET", "/healthz")
    mem = {"idle_seed": proc_mem(srv.pid)}
    scen = score_bodies(seed)
    answers = {}
    for name, method, path, body in scen:
        st, out = request(port, method, path, body)
        if st != 200:
            raise RuntimeError("%s answered %d: %s" % (name, st, out[:500]))
        answers[name] = len(out)
        lua_script(os.path.join(tmp, name + ".lua"), method, body)
    res["http_answer_bytes"] = answers
    res["http_body_bytes"] = {n: len(b) if b else 0 for n, _, _, b in scen}
    ngx, nport = start_nginx(tmp, answers)
    for name in answers:               # nginx answers like cascaded, size-wise
        st, out = request(nport, "POST" if name != "healthz" else "GET",
                          "/" + name, "{}" if name != "healthz" else None)
        if st != 200 or len(out) != answers[name]:
            raise RuntimeError("nginx %s: %d, %d bytes" % (name, st, len(out)))
    runs = [(srv_name, s) for s in scen for srv_name in ("cascaded", "nginx")]
    rounds = []
    rss_under = []
    for r in range(ROUNDS):
        k = (3 * r) % len(runs)
        order = runs[k:] + runs[:k]
        rnd = {}
        for srv_name, (name, method, path, body) in order:
            lua = os.path.join(tmp, name + ".lua")
            if srv_name == "cascaded":
                c0 = proc_cpu_s(srv.pid)
                d = run_wrk(port, path, lua, SECS)
                d["server_cpu_us_per_req"] = (proc_cpu_s(srv.pid) - c0) * 1e6 / \
                    max(1, d["requests"])
                m = proc_mem(srv.pid)
                rss_under.append(m["VmRSS"])
                os.truncate(logpath, 0)
            else:
                c0 = proc_cpu_s(ngx.pid, True)
                d = run_wrk(nport, "/" + name, lua, SECS)
                d["server_cpu_us_per_req"] = (proc_cpu_s(ngx.pid, True) - c0) * \
                    1e6 / max(1, d["requests"])
                try:
                    os.truncate(os.path.join(tmp, "nginx-access.log"), 0)
                except OSError:
                    pass
            rnd.setdefault(name, {})[srv_name] = d
            log("   round %d %-17s %-8s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms"
                "  non-2xx %d  errors %d" % (
                    r + 1, name, srv_name, d["rps"], d["p50_us"] / 1e3,
                    d["p99_us"] / 1e3, d["status_errors"],
                    d["connect"] + d["read"] + d["write"] + d["timeout"]))
        rounds.append(rnd)
    mem["under_http"] = proc_mem(srv.pid)
    mem["under_http"]["VmRSS_max_sampled"] = max(rss_under)
    summary = {}
    for name, _, _, _ in scen:
        c = [rd[name]["cascaded"] for rd in rounds]
        n = [rd[name]["nginx"] for rd in rounds]
        summary[name] = {
            "cascaded_rps": median([x["rps"] for x in c]),
            "cascaded_ok_rps": median([x["ok_rps"] for x in c]),
            "nginx_rps": median([x["rps"] for x in n]),
            "ratio": median([a["ok_rps"] / b["rps"] for a, b in zip(c, n)]),
            "ratio_per_round": [a["ok_rps"] / b["rps"] for a, b in zip(c, n)],
            "cpu_us_per_req": median([x["server_cpu_us_per_req"] for x in c]),
            "nginx_cpu_us_per_req": median([x["server_cpu_us_per_req"]
                                            for x in n]),
            "p50_ms": median([x["p50_us"] / 1e3 for x in c]),
            "p99_ms": median([x["p99_us"] / 1e3 for x in c]),
            "nginx_p50_ms": median([x["p50_us"] / 1e3 for x in n]),
            "nginx_p99_ms": median([x["p99_us"] / 1e3 for x in n]),
            "non_2xx": sum(x["status_errors"] for x in c),
            "socket_errors": sum(x["connect"] + x["read"] + x["write"] +
                                 x["timeout"] for x in c),
            "requests": sum(x["requests"] for x in c),
        }
    res["http"] = {"rounds": rounds, "summary": summary,
                   "config": {"threads": 2, "connections": 64,
                              "seconds": SECS, "rounds": ROUNDS}}
    ngx.terminate()
    ngx.wait(timeout=10)

    # ---- depth write of 10 000 points: time until a reader sees it
    log("== depth write of 10 000 points, visible to readers")
    lat, put_ms = [], []
    for i in range(7):
        pts = [[round(0.9 * (k + 1), 4), round(0.2 * (k + 1) * (1 + i / 100), 6)]
               for k in range(10000)]
        as_of = "2026-11-26T00:00:%02dZ" % i
        body = json.dumps({"side": "bid", "as_of": as_of, "points": pts})
        t0 = time.perf_counter()
        st, out = request(port, "PUT", "/v1/markets/ETH/depth/bench-venue", body)
        t1 = time.perf_counter()
        if st not in (200, 201):
            raise RuntimeError("depth write: %d %s" % (st, out[:300]))
        seen = False
        for _ in range(1000):               # bounded: ~1000 reads
            st, out = request(port, "GET", "/v1/markets/ETH")
            venues = json.loads(out)["bid"]["venues"]
            if any(v["venue"] == "bench-venue" and v["as_of"] == as_of and
                   v.get("point_count") == 10000 for v in venues):
                seen = True
                break
        t2 = time.perf_counter()
        if not seen:
            raise RuntimeError("depth write never became visible")
        put_ms.append((t1 - t0) * 1e3)
        lat.append((t2 - t0) * 1e3)
    request(port, "DELETE", "/v1/markets/ETH/depth/bench-venue")
    res["depth_write"] = {"points": 10000, "put_ms": median(put_ms),
                          "visible_ms": median(lat), "runs": lat}
    log("   PUT %.1f ms, visible after %.1f ms (medians of 7)" % (
        median(put_ms), median(lat)))

    # ---- load liquidation levels, appended in <= 8 MiB POSTs
    log("== loading %d liquidation levels on ETH" % LEVELS_TOTAL)
    P = [m["body"]["price"] for m in seed["markets"] if m["asset"] == "ETH"][0]
    rnd = random.Random(7)
    post_ms = []
    for j in range(LEVELS_TOTAL // LEVELS_PER_POST):
        lv = [{"price": round(P * (1 - 0.6 * rnd.random()) - 0.01, 6),
               "qty": round(0.01 + rnd.random(), 6), "side": "sell"}
              for _ in range(LEVELS_PER_POST)]
        body = json.dumps({"levels": lv, "source": "bench"},
                          separators=(",", ":"))
        if len(body) > 8 << 20:
            raise RuntimeError("level batch over 8 MiB")
        t0 = time.perf_counter()
        st, out = request(port, "POST", "/v1/markets/ETH/liquidations", body,
                          timeout=300)
        post_ms.append((time.perf_counter() - t0) * 1e3)
        if st not in (200, 201):
            raise RuntimeError("levels POST %d: %d %s" % (j, st, out[:300]))
    mem["after_levels"] = proc_mem(srv.pid)
    st, out = request(port, "GET", "/v1/markets/ETH")
    stored = json.loads(out)["levels"]["sell"]["count"]
    one = scen[1][3]
    lat1 = []
    for _ in range(15):
        t0 = time.perf_counter()
        st, out = request(port, "POST", "/v1/score", one)
        lat1.append((time.perf_counter() - t0) * 1e3)
        if st != 200:
            raise RuntimeError("score after load: %d" % st)
    mem["after_levels_and_score"] = proc_mem(srv.pid)
    res["levels_load"] = {"levels": LEVELS_TOTAL, "stored_sell": stored,
                          "per_post": LEVELS_PER_POST,
                          "post_ms_median": median(post_ms),
                          "post_ms_max": max(post_ms),
                          "score_one_loan_ms": median(lat1)}
    log("   %d stored; POST of %d levels: median %.0f ms, max %.0f ms; "
        "one-loan score then %.2f ms" % (stored, LEVELS_PER_POST,
                                         median(post_ms), max(post_ms),
                                         median(lat1)))
    res["memory_kb"] = mem
    srv.terminate()
    srv.wait(timeout=30)


# ---- targets and table ------------------------------------------------------

def eng(res, name, n):
    for row in res.get("engine", []):
        if row["bench"] == name and row["n"] == n:
            return row
    return None


def targets(res):
    """Each target with its wall-clock figure and, for the in-process ones,
    the CPU-time figure (process CPU time over the same calls: what the
    code costs, less sensitive to other load on a shared machine)."""
    t = []

    def add(what, value, cpu, unit, goal, ok):
        # ok None: a figure without a goal (goal "-")
        t.append({"target": what, "value": value, "cpu_value": cpu,
                  "unit": unit, "goal": goal,
                  "met": None if value is None or ok is None
                  else bool(ok(value)),
                  "met_cpu": None if cpu is None or ok is None
                  else bool(ok(cpu))})
    h = res.get("http", {}).get("summary", {}).get("score_one_loan")
    if h:
        add("POST /v1/score one loan vs nginx req/s", h["ratio"], None, "x",
            ">= 0.5", lambda v: v >= 0.5)
        add("POST /v1/score one loan p99", h["p99_ms"], None, "ms", "< 2",
            lambda v: v < 2)
    r = eng(res, "score_exact_positions", 10)
    if r:
        add("exact scoring, 10 positions vs 10 000 levels",
            r["median_ns"] / 1e3, r["cpu_ns"] / 1e3, "us", "< 100",
            lambda v: v < 100)
    r = eng(res, "svg_liquidation_map", 100000)
    if r:
        add("liquidation map SVG of 1e5 levels", r["median_ns"] / 1e6,
            r["cpu_ns"] / 1e6, "ms", "< 5", lambda v: v < 5)
        add("liquidation map SVG size", r["bytes"] / 1e3, None, "KB",
            "< 60", lambda v: v < 60)
    r = eng(res, "svg_cascade_curve", 51)
    if r:
        add("cascade curve SVG (51 points, 1e5 levels)", r["median_ns"] / 1e6,
            r["cpu_ns"] / 1e6, "ms", "< 2", lambda v: v < 2)
    r = eng(res, "mc_5asset_1t", 20000)
    if r:
        add("Monte Carlo asset-steps/s per core (1 thread)",
            r["ops"] / r["median_ns"] * 1e3, r["ops"] / r["cpu_ns"] * 1e3,
            "M/s", ">= 30", lambda v: v >= 30)
    r2 = eng(res, "mc_5asset_2t", 20000)
    if r2:
        add("Monte Carlo asset-steps/s per core (2 threads; wall: /2)",
            r2["ops"] / r2["median_ns"] * 1e3 / 2, r2["ops"] / r2["cpu_ns"] * 1e3,
            "M/s", ">= 30", lambda v: v >= 30)
    for row in res.get("numpy", []):
        if row["bench"] == "numpy_exact" and row["n"] == 10:
            add("speed vs numpy, exact (10 positions, 10 000 levels)",
                row["speedup"], row["speedup_cpu"], "x", ">= 50",
                lambda v: v >= 50)
        if row["bench"] == "numpy_mc":
            add("speed vs numpy, Monte Carlo (3-asset loan, 20000x16)",
                row["speedup"], row["speedup_cpu"], "x", ">= 10",
                lambda v: v >= 10)
    bench_simulate.targets(add, res)
    bench_seedbook.targets(add, res)
    bench_books_numpy.targets(add, res)
    m = res.get("memory_kb", {}).get("idle_seed")
    if m:
        add("server RSS idle with the seed (VmHWM)", m["VmHWM"] / 1024, None,
            "MiB", "< 30", lambda v: v < 30)
    r = eng(res, "score_exact_levels", 100000)
    if r:
        add("exact cascade of 100 000 levels (lc_score, 1 position)",
            r["median_ns"] / 1e6, r["cpu_ns"] / 1e6, "ms", "< 20",
            lambda v: v < 20)
    r = eng(res, "score_prebuilt_levels", 1000000)
    if r:
        add("one loan vs 1e6 levels, prebuilt cascade (lc_score)",
            r["median_ns"] / 1e6, r["cpu_ns"] / 1e6, "ms", "< 1",
            lambda v: v < 1)
    # Books (bench_engine --books): the model of docs/books.md.
    for name, n, what, goal in (
            ("books_derive", 1000000,
             "book of 1e6 positions: puts + flush + levels per asset", 1000),
            ("books_upsert_levels", 1000,
             "upsert 1000 positions into 1e6, then the asset's levels", 50),
            ("books_risk_51", 100000,
             "risk curve of a 1e5-position book, 51 points", 20),
            ("books_top", 100000,
             "100 riskiest of 1e5 positions (lc_book_top)", 50)):
        r = eng(res, name, n)
        if r:
            add(what, r["median_ns"] / 1e6, r["cpu_ns"] / 1e6, "ms",
                "< %d" % goal, lambda v, g=goal: v < g)
    r = eng(res, "cascade_build", 100000)
    if r:
        add("exact cascade of 100 000 levels (lc_cascade_build)",
            r["median_ns"] / 1e6, r["cpu_ns"] / 1e6, "ms", "< 20",
            lambda v: v < 20)
    for n in (10000, 100000):
        r = eng(res, "kp_query", n)
        if r:
            add("k(p) query, %d levels, random order" % n,
                r["median_ns"] / r["ops"], r["cpu_ns"] / r["ops"], "ns",
                "< 200", lambda v: v < 200)
    d = res.get("depth_write")
    if d:
        add("depth write of 10 000 points visible to readers",
            d["visible_ms"], None, "ms", "< 50", lambda v: v < 50)
    if r2:
        add("20000 paths x 16 steps, 5-asset loan, 10 000 levels/asset, "
            "2 threads", r2["median_ns"] / 1e6, None, "ms", "< 25",
            lambda v: v < 25)
    bench_page.targets(add, res)
    # Not a target: the same loan at health 1.05, where most paths cannot
    # be proved safe up front and are walked step by step (a finding).
    for th in (1, 2):
        r = eng(res, "mc_5asset_hf105_%dt" % th, 20000)
        if r:
            w = eng(res, "mc_5asset_hf105_walked", 20000)
            share = "" if w is None else ", %.0f %% of paths walked" % (
                100.0 * w["ops"] / 20000)
            t.append({"target": "(stress, no target) the loan at health "
                      "1.05%s: asset-steps/s per core, %d thread%s"
                      % (share, th, "s" if th > 1 else ""),
                      "value": r["ops"] / r["median_ns"] * 1e3 / th,
                      "cpu_value": r["ops"] / r["cpu_ns"] * 1e3,
                      "unit": "M/s", "goal": "-", "met": None,
                      "met_cpu": None})
    bench_calib.targets(add, res)
    bench_cluster.targets(add, res)
    return t


def fmt(v, unit=""):
    if v is None:
        return "-"
    if abs(v) >= 100:
        s = "%.0f" % v
    elif abs(v) >= 10:
        s = "%.1f" % v
    elif abs(v) >= 0.01:
        s = "%.2f" % v
    else:
        s = "%.3g" % v
    return s + (" " + unit if unit else "")


def fmt_time(ns):
    if ns >= 1e9:
        return "%.2f s" % (ns / 1e9)
    if ns >= 1e6:
        return "%.2f ms" % (ns / 1e6)
    if ns >= 1e3:
        return "%.1f us" % (ns / 1e3)
    if ns >= 1:
        return "%.1f ns" % ns
    return "%.2f ns" % ns


def table(res):
    L = []
    mc = res.get("machine", {})
    L.append("Machine: %s cores (nproc), %s, %s RAM, kernel %s; %s, %s, "
             "numpy %s; run %s, %.0f s, load average %s at start, %s at end%s"
             % (mc.get("nproc"), mc.get("cpu"), mc.get("memory"),
                mc.get("kernel"), mc.get("nginx"), mc.get("wrk", "").split(" [")[0],
                mc.get("numpy"), mc.get("date"), res.get("elapsed_s", 0),
                "/".join("%.1f" % x for x in mc.get("load_avg_at_start", [])),
                "/".join("%.1f" % x for x in mc.get("load_avg_at_end", [])),
                " (QUICK MODE: figures meaningless)" if res.get("quick") else ""))
    L.append("")
    h = res.get("http")
    if h:
        c = h["config"]
        L.append("### HTTP (wrk -t%d -c%d, %d s runs, %d rounds, medians; "
                 "ratio = cascaded 2xx req/s / nginx req/s in the same round)"
                 % (c["threads"], c["connections"], c["seconds"], c["rounds"]))
        L.append("")
        L.append("| scenario | answer bytes | cascaded req/s | nginx req/s | "
                 "ratio | p50 ms | p99 ms | nginx p99 ms | server CPU us/req "
                 "(nginx) | non-2xx | socket errors / requests |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for name, s in h["summary"].items():
            L.append("| %s | %d | %s | %s | %.2f | %s | %s | %s | %s (%s) | %d "
                     "| %d / %d |"
                     % (name, res["http_answer_bytes"][name],
                        fmt(s["cascaded_ok_rps"]), fmt(s["nginx_rps"]),
                        s["ratio"], fmt(s["p50_ms"]), fmt(s["p99_ms"]),
                        fmt(s["nginx_p99_ms"]), fmt(s.get("cpu_us_per_req")),
                        fmt(s.get("nginx_cpu_us_per_req")), s["non_2xx"],
                        s["socket_errors"], s["requests"]))
        L.append("")
    if res.get("engine"):
        L.append("### Engine, in process (median of runs; growth = log-log "
                 "slope of wall time against n; CPU = process CPU time, all "
                 "threads)")
        L.append("")
        L.append("| benchmark | n | time per call | per unit | throughput | "
                 "growth | CPU per call | CPU per unit |")
        L.append("|---|---|---|---|---|---|---|---|")
        seen = set()
        counts = []
        for row in res["engine"]:
            if row["unit"] == "paths":
                # a count, not a timing (Monte Carlo paths walked)
                counts.append(row)
                continue
            g = res["growth"].get(row["bench"])
            gs = "-"
            if g is not None and row["bench"] not in seen:
                gs = "%.2f" % g
            seen.add(row["bench"])
            unit = {"queries": "query"}.get(row["unit"], row["unit"][:-1])
            per = "%s/%s" % (fmt_time(row["median_ns"] / row["ops"]), unit) \
                if row["ops"] > 1 else "-"
            cper = "%s/%s" % (fmt_time(row["cpu_ns"] / row["ops"]), unit) \
                if row["ops"] > 1 else "-"
            L.append("| %s | %d | %s | %s | %s %s/s | %s | %s | %s |" % (
                row["bench"], row["n"], fmt_time(row["median_ns"]), per,
                "%.3g" % row["per_sec"], row["unit"], gs,
                fmt_time(row["cpu_ns"]), cper))
        L.append("")
        for row in counts:
            L.append("- `%s`: %d of %d paths walked step by step (the "
                     "others proved safe for the loan up front)" % (
                         row["bench"], row["ops"], row["n"]))
        if counts:
            L.append("")
    if res.get("numpy"):
        L.append("### Against numpy (same inputs, same run)")
        L.append("")
        L.append("| case | engine | numpy | speedup | speedup on CPU time "
                 "| agreement |")
        L.append("|---|---|---|---|---|---|")
        for row in res["numpy"]:
            if row["bench"] == "numpy_exact":
                case = "exact, %d loans vs %d levels" % (row["n"], row["levels"])
                agree = "max rel. diff %.2g (<= 1e-9): %s" % (
                    row["max_rel_err"], "ok" if row["agree"] else "DISAGREE")
            elif row["bench"] == "numpy_sim":
                case = ("simulate, a book of %d positions, %d paths x %d "
                        "steps, %d threads" % (row["n"], row["paths"],
                                               row["steps"], row["threads"]))
                agree = "max z of the means %.2f (<= 4): %s" % (
                    max(row["z"].values()),
                    "ok" if row["agree"] else "DISAGREE")
            else:
                case = "Monte Carlo, %d-asset loan, %d paths x %d steps" % (
                    row["assets"], row["n"], row["steps"])
                agree = "p %.4f vs %.4f (+-%.4f), z %.2f (<= 4): %s" % (
                    row["engine_p"], row["numpy_p"], row["numpy_se"],
                    row["z"]["p_liquidation"],
                    "ok" if row["agree"] else "DISAGREE")
            L.append("| %s | %s | %s | %.1fx | %.1fx | %s |" % (
                case, fmt_time(row["engine_median_ns"]),
                fmt_time(row["numpy_median_ns"]), row["speedup"],
                row["speedup_cpu"], agree))
        L.append("")
    m = res.get("memory_kb")
    if m:
        L.append("### Server memory (/proc/PID/status)")
        L.append("")
        L.append("| state | VmRSS MiB | VmHWM MiB |")
        L.append("|---|---|---|")
        names = {"idle_seed": "idle, seed data",
                 "under_http": "after the HTTP benchmark",
                 "after_levels": "after loading %d levels" %
                 res.get("levels_load", {}).get("levels", 0),
                 "after_levels_and_score": "same, after 15 scores"}
        for k, v in m.items():
            L.append("| %s | %.1f | %.1f |" % (names.get(k, k),
                                               v["VmRSS"] / 1024,
                                               v["VmHWM"] / 1024))
        L.append("")
    d = res.get("depth_write")
    ll = res.get("levels_load")
    if d or ll:
        L.append("### Writes")
        L.append("")
        if d:
            L.append("- depth write of 10 000 points: PUT answered in %.1f ms,"
                     " visible to a reader after %.1f ms (median of 7)" % (
                         d["put_ms"], d["visible_ms"]))
        if ll:
            L.append("- %d liquidation levels appended in POSTs of %d: median "
                     "%.0f ms per POST (max %.0f); a one-loan score against "
                     "them: %.2f ms" % (ll["stored_sell"], ll["per_post"],
                                        ll["post_ms_median"], ll["post_ms_max"],
                                        ll["score_one_loan_ms"]))
        L.append("")
    if res.get("targets"):
        L.append("### Targets")
        L.append("")
        L.append("| target | goal | measured (wall) | met | CPU time | "
                 "met on CPU time |")
        L.append("|---|---|---|---|---|---|")
        yn = {True: "yes", False: "**no**", None: "-"}
        for t in res["targets"]:
            L.append("| %s | %s %s | %s | %s | %s | %s |" % (
                t["target"], t["goal"], t["unit"], fmt(t["value"], t["unit"]),
                yn[t["met"]], fmt(t.get("cpu_value"), t["unit"]),
                yn[t.get("met_cpu")]))
        L.append("")
    if res.get("failures"):
        L.append("FAILURES:")
        for f in res["failures"]:
            L.append("- " + f)
    return "\n".join(L)


def main():
    if len(sys.argv) == 3 and sys.argv[1] in ("--table", "--markdown"):
        with open(sys.argv[2]) as f:
            print(table(json.load(f)))
        return 0
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    res = {"failures": [], "quick": QUICK}
    tmp = tempfile.mkdtemp(prefix="cascaded-bench-")
    os.chmod(tmp, 0o755)
    t0 = time.monotonic()
    try:
        res["machine"] = machine()
        run_engine(res)
        run_numpy(res, tmp)
        bench_simulate.run(res, tmp)
        bench_books_numpy.run(res, tmp)
        run_http(res, tmp)
        bench_seedbook.run(res, tmp)
        bench_page.run(res, tmp)
        bench_calib.run(res, tmp)
        bench_cluster.run(res, tmp)
    except BaseException as e:
        res["failures"].append("bench aborted: %r" % (e,))
        raise
    finally:
        kill_all()
        res["elapsed_s"] = time.monotonic() - t0
        if "machine" in res:
            res["machine"]["load_avg_at_end"] = os.getloadavg()
        res["targets"] = targets(res)
        with open(OUT, "w") as f:
            json.dump(res, f, indent=1)
        print(table(res))
        shutil.rmtree(tmp, ignore_errors=True)
    if res["failures"]:
        print("\nbench: FAILED (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
