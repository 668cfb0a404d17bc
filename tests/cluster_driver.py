#!/usr/bin/env python3
"""cluster_driver.py - the client side of tests/cluster-test.sh.

Talks HTTP to cascaded replicas on 127.0.0.1 (ports given on the command
line), with the API key of $CLUSTER_KEY.  Every loop is bounded in time
and in count.  Subcommands (each prints one result line and exits 0, or
1 on a failed check):

  mixed P1 P2 P3        concurrent writes of every kind, one thread per
                        replica: markets, depth, levels, correlations
  same P1 P2 P3         wait (15 s at most) until every replica applied the
                        stream's last sequence, then compare the bodies
                        and ETags of GET /v1/markets and /v1/markets/ETH
  latency RATE SECS P.. RATE writes/s (open loop, 16 writer threads)
                        into the replicas in turn; pollers on every
                        replica note when each write becomes visible:
                        p50 / p99 / max
  storm SECS ASSET P..  one thread per replica appends one level per
                        write to ASSET until SECS pass; prints the
                        acknowledged (2xx) writes
  levels N P            N liquidation levels on a new asset LVL, in
                        batches; prints the seconds
  count ASSET P         the stored sell levels of ASSET
  ready P SECS          wait until /readyz is 200; prints the seconds

bench/cluster.py imports it: latency_stats, load_levels, wait_ready.
"""
import http.client
import json
import os
import sys
import threading
import time

KEY = os.environ.get("CLUSTER_KEY", "cluster-key")


class Client:
    def __init__(self, port, timeout=10):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def req(self, method, path, body=None):
        """(status, headers dict, bytes); status 0 when unreachable."""
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Authorization": "Bearer " + KEY}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(
                        "127.0.0.1", self.port, timeout=self.timeout)
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                out = r.read()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, out
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
        return 0, {}, b""


def price_of(c, asset):
    st, _, b = c.req("GET", "/v1/markets/" + asset)
    return json.loads(b)["price"] if st == 200 else None


def mixed(ports):
    eth = price_of(Client(ports[0]), "ETH")
    statuses = {}
    lock = threading.Lock()

    def work(t, port):
        c = Client(port)
        for k in range(40):
            kind = k % 4
            if kind == 0:
                st, _, _ = c.req("PUT", "/v1/markets/C%d-%d" % (t, k),
                                 {"price": 10 + k, "volatility": 0.5})
            elif kind == 1:
                p = eth * (1 + 0.001 * t)
                st, _, _ = c.req(
                    "PUT", "/v1/markets/ETH/depth/v%d" % t,
                    {"bids": [[str(p * 0.99), str(5 + k)],
                              [str(p * 0.98), "50"]],
                     "asks": [[str(p * 1.01), str(5 + k)],
                              [str(p * 1.02), "50"]]})
            elif kind == 2:
                st, _, _ = c.req(
                    "POST", "/v1/markets/ETH/liquidations",
                    {"levels": [{"price": eth * 0.5, "qty": 1 + t + k,
                                 "side": "sell"}]})
            else:
                st, _, _ = c.req("POST", "/v1/correlations",
                                 {"pairs": [["ETH", "BTC",
                                             0.5 + 0.01 * t + 0.001 * k]]})
            with lock:
                statuses[st] = statuses.get(st, 0) + 1

    th = [threading.Thread(target=work, args=(i, p))
          for i, p in enumerate(ports)]
    for x in th:
        x.start()
    for x in th:
        x.join(60)
    bad = {s: n for s, n in statuses.items() if not 200 <= s < 300}
    print("mixed: %d writes, statuses %s" %
          (sum(statuses.values()), sorted(statuses.items())))
    return 1 if bad else 0


def bus_state(port):
    st, _, b = Client(port, 2).req("GET", "/readyz?verbose")
    if st == 0:
        return None
    j = json.loads(b).get("bus") or {}
    return j.get("applied_seq"), j.get("stream_last_seq")


def same(ports):
    deadline = time.time() + 30
    states = []
    while time.time() < deadline:
        states = [bus_state(p) for p in ports]
        if all(s is not None for s in states):
            last = max(s[1] for s in states)
            if all(s[0] == last for s in states):
                break
        time.sleep(0.05)
    bad = 0
    for path in ("/v1/markets", "/v1/markets/ETH"):
        res = [Client(p).req("GET", path) for p in ports]
        bodies = {r[2] for r in res}
        tags = {r[1].get("etag") for r in res}
        if len(bodies) != 1 or len(tags) != 1 or res[0][0] != 200:
            bad = 1
            print("same: %s differs: statuses %s, etags %s" %
                  (path, [r[0] for r in res], [r[1].get("etag") for r in res]))
    print("same: applied %s; bodies and ETags %s" %
          ([s[0] if s else None for s in states],
           "identical" if not bad else "DIFFER"))
    return bad


def latency_stats(rate, secs, ports, writers=16):
    """Writes at RATE per second for SECS, open loop (write i is due at
    i / RATE, whatever the answers to the earlier ones take): WRITERS
    threads, each with its own market LAT<w> whose price counts its
    writes (a thread sends one write at a time, so its writes reach the
    bus in order), into the replicas in turn; one poller per replica
    reads GET /v1/markets: a price k on LAT<w> means writes 2..k of
    thread w are visible there (a poll every ~3 ms: the resolution).
    Returns {"writes", "acked", "elapsed_s",
    "rate", "p50_ms", "p99_ms", "max_ms", "observations"} (delays from
    sending to visible), or None when nothing showed."""
    n = int(rate * secs)
    c0 = Client(ports[0])
    for w in range(writers):
        c0.req("PUT", "/v1/markets/LAT%d" % w, {"price": 1, "volatility": 0.1})
    time.sleep(0.5)
    sent = {}       # (w, k) -> time sent
    seen = {}       # (replica, w, k) -> time first visible
    stop = threading.Event()
    lock = threading.Lock()
    nxt = [0, 0]    # next write, writes acknowledged

    def poll(r, port):
        c = Client(port, 2)
        upto = [1] * writers
        while not stop.is_set():
            st, _, b = c.req("GET", "/v1/markets")
            now = time.monotonic()
            time.sleep(0.002)   # a poll every ~3 ms, not a busy loop
            if st != 200:
                continue
            for m in json.loads(b)["markets"]:
                a = m["asset"]
                if a.startswith("LAT") and a[3:].isdigit():
                    w, p = int(a[3:]), int(m["price"])
                    with lock:
                        while w < writers and upto[w] < p:
                            upto[w] += 1
                            seen[(r, w, upto[w])] = now

    def write(w):
        cs = [Client(p) for p in ports]
        k = 1
        while True:
            with lock:
                i = nxt[0]
                if i >= n:
                    return
                nxt[0] += 1
            due = t0 + i / rate
            while time.monotonic() < due:
                time.sleep(0.0005)
            k += 1
            with lock:
                sent[(w, k)] = time.monotonic()
            st, _, _ = cs[i % len(cs)].req(
                "PUT", "/v1/markets/LAT%d" % w,
                {"price": k, "volatility": 0.1})
            if 200 <= st < 300:
                with lock:
                    nxt[1] += 1

    pollers = [threading.Thread(target=poll, args=(r, p))
               for r, p in enumerate(ports)]
    for x in pollers:
        x.start()
    t0 = time.monotonic()
    th = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for x in th:
        x.start()
    for x in th:
        x.join(secs + 60)
    elapsed = time.monotonic() - t0
    end = time.time() + 5
    while time.time() < end and len(seen) < n * len(ports):
        time.sleep(0.05)
    stop.set()
    for x in pollers:
        x.join(5)
    with lock:
        lat = sorted((seen[k] - sent[k[1:]]) * 1000 for k in seen
                     if k[1:] in sent)
    if not lat:
        return None
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    return {"writes": n, "acked": nxt[1], "elapsed_s": elapsed,
            "rate": n / elapsed, "replicas": len(ports),
            "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": lat[-1],
            "observations": len(lat)}


def latency(rate, secs, ports):
    r = latency_stats(rate, secs, ports)
    if r is None:
        print("latency: nothing visible")
        return 1
    print("latency: %d writes (%d acknowledged) in %.2f s (%.0f/s), "
          "visible on %d replicas: p50 %.1f ms, p99 %.1f ms, max %.1f ms "
          "(%d of %d observations)" %
          (r["writes"], r["acked"], r["elapsed_s"], r["rate"],
           r["replicas"], r["p50_ms"], r["p99_ms"], r["max_ms"],
           r["observations"], r["writes"] * r["replicas"]))
    return 0 if r["acked"] == r["writes"] else 1


def storm(secs, asset, ports):
    acked = [0] * len(ports)
    other = [0] * len(ports)
    codes = {}
    end = time.monotonic() + secs

    def work(i, port):
        c = Client(port, 3)
        k = 0
        while time.monotonic() < end and k < 100000:
            k += 1
            st, _, _ = c.req("POST", "/v1/markets/%s/liquidations" % asset,
                             {"levels": [{"price": 1, "qty": 1,
                                          "side": "sell"}]})
            if 200 <= st < 300:
                acked[i] += 1
            else:
                other[i] += 1
                codes[st] = codes.get(st, 0) + 1
                time.sleep(0.01)

    th = [threading.Thread(target=work, args=(i, p))
          for i, p in enumerate(ports)]
    for x in th:
        x.start()
    for x in th:
        x.join(secs + 30)
    print("acked %d (per replica %s; refused or failed %s, statuses %s "
          "(0: unreachable))" % (sum(acked), acked, other,
                                 sorted(codes.items())))
    return 0


def load_levels(n, port, first=0):
    """N more liquidation levels on the asset LVL (the k-th level of the
    asset overall is FIRST + k), in batches: seconds taken, or None."""
    c = Client(port, 60)
    if first == 0:
        c.req("PUT", "/v1/markets/LVL", {"price": 1000, "volatility": 0.5})
    batch = 16000       # ~700 KB: under NATS's default 1 MB max_payload
    done = 0
    t0 = time.monotonic()
    while done < n:
        k = min(batch, n - done)
        lv = [{"price": 100 + (first + done + j) % 800 + 0.5, "qty": 1,
               "side": "sell"} for j in range(k)]
        st, _, b = c.req("POST", "/v1/markets/LVL/liquidations",
                         {"levels": lv})
        if st != 200:
            print("levels: batch at %d answered %d %s" % (done, st, b[:200]))
            return None
        done += k
    return time.monotonic() - t0


def levels(n, port):
    t = load_levels(n, port)
    if t is None:
        return 1
    print("levels: %d levels in %.1f s" % (n, t))
    return 0


def count(asset, port):
    st, _, b = Client(port).req("GET", "/v1/markets/" + asset)
    if st != 200:
        print("-1")
        return 1
    print(json.loads(b)["levels"]["sell"]["count"])
    return 0


def wait_ready(port, secs):
    """Seconds until GET /readyz answers 200 (polled every 50 ms), or
    None after SECS."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs:
        st, _, _ = Client(port, 2).req("GET", "/readyz")
        if st == 200:
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def ready(port, secs):
    t = wait_ready(port, secs)
    print("timeout" if t is None else "%.2f" % t)
    return 1 if t is None else 0


def main(a):
    cmd = a[0]
    if cmd == "mixed":
        return mixed([int(p) for p in a[1:]])
    if cmd == "same":
        return same([int(p) for p in a[1:]])
    if cmd == "latency":
        return latency(float(a[1]), float(a[2]), [int(p) for p in a[3:]])
    if cmd == "storm":
        return storm(float(a[1]), a[2], [int(p) for p in a[3:]])
    if cmd == "levels":
        return levels(int(a[1]), int(a[2]))
    if cmd == "count":
        return count(a[1], int(a[2]))
    if cmd == "ready":
        return ready(int(a[1]), float(a[2]))
    print("unknown command " + cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
