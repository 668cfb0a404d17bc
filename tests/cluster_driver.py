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
  latency RATE SECS P.. one writer at RATE writes/s into the replicas in
                        turn; pollers on every replica note when each
                        write becomes visible: p50 / p99 / max
  storm SECS ASSET P..  one thread per replica appends one level per
                        write to ASSET until SECS pass; prints the
                        acknowledged (2xx) writes
  levels N P            N liquidation levels on a new asset LVL, in
                        batches
  count ASSET P         the stored sell levels of ASSET
  ready P SECS          wait until /readyz is 200; prints the seconds
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
    deadline = time.time() + 15
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


def latency(rate, secs, ports):
    n = int(rate * secs)
    c0 = Client(ports[0])
    c0.req("PUT", "/v1/markets/LAT", {"price": 1, "volatility": 0.1})
    time.sleep(0.5)
    sent = [0.0] * (n + 2)
    seen = {}       # (replica, i) -> time first visible
    stop = threading.Event()
    lock = threading.Lock()

    def poll(r, port):
        c = Client(port, 2)
        upto = 1
        while not stop.is_set():
            st, _, b = c.req("GET", "/v1/markets/LAT")
            now = time.monotonic()
            if st != 200:
                continue
            p = int(json.loads(b)["price"])
            with lock:
                while upto < p:
                    upto += 1
                    seen[(r, upto)] = now

    pollers = [threading.Thread(target=poll, args=(r, p))
               for r, p in enumerate(ports)]
    for x in pollers:
        x.start()
    writers = [Client(p) for p in ports]
    t0 = time.monotonic()
    ok = 0
    for i in range(2, n + 2):
        due = t0 + (i - 2) / rate
        while time.monotonic() < due:
            time.sleep(0.0005)
        sent[i] = time.monotonic()
        st, _, _ = writers[i % len(ports)].req(
            "PUT", "/v1/markets/LAT", {"price": i, "volatility": 0.1})
        ok += 200 <= st < 300
    elapsed = time.monotonic() - t0
    end = time.time() + 5
    while time.time() < end and len(seen) < n * len(ports):
        time.sleep(0.05)
    stop.set()
    for x in pollers:
        x.join(5)
    lat = sorted((seen[k] - sent[k[1]]) * 1000 for k in seen)
    if not lat:
        print("latency: nothing visible")
        return 1
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print("latency: %d writes (%d acknowledged) in %.2f s (%.0f/s), "
          "visible on %d replicas: p50 %.1f ms, p99 %.1f ms, max %.1f ms "
          "(%d of %d observations)" %
          (n, ok, elapsed, n / elapsed, len(ports), pct(0.5), pct(0.99),
           lat[-1], len(lat), n * len(ports)))
    return 0 if ok == n else 1


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


def levels(n, port):
    c = Client(port, 60)
    c.req("PUT", "/v1/markets/LVL", {"price": 1000, "volatility": 0.5})
    batch = 5000
    done = 0
    t0 = time.monotonic()
    while done < n:
        k = min(batch, n - done)
        lv = [{"price": 100 + (done + j) % 800 + 0.5, "qty": 1,
               "side": "sell"} for j in range(k)]
        st, _, b = c.req("POST", "/v1/markets/LVL/liquidations",
                         {"levels": lv})
        if st != 200:
            print("levels: batch at %d answered %d %s" % (done, st, b[:200]))
            return 1
        done += k
    print("levels: %d levels in %.1f s" % (n, time.monotonic() - t0))
    return 0


def count(asset, port):
    st, _, b = Client(port).req("GET", "/v1/markets/" + asset)
    if st != 200:
        print("-1")
        return 1
    print(json.loads(b)["levels"]["sell"]["count"])
    return 0


def ready(port, secs):
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs:
        st, _, _ = Client(port, 2).req("GET", "/readyz")
        if st == 200:
            print("%.2f" % (time.monotonic() - t0))
            return 0
        time.sleep(0.05)
    print("timeout")
    return 1


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
