#!/usr/bin/env python3
"""make_seeds.py - (re)write the seed corpora of tests/fuzz/corpus/ from the
golden cases (tests/golden/*.json: their request and write bodies) plus the
hand-made bodies below.  Run from the repository root; files are named by
content hash, so running it again adds nothing twice.

  python3 tests/fuzz/make_seeds.py
"""
import glob
import hashlib
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "corpus")


def put(target, body):
    if isinstance(body, (dict, list)):
        body = json.dumps(body, separators=(",", ":"))
    if isinstance(body, str):
        body = body.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(body).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(body)


def target_of(method, path):
    if path.endswith("/liquidations"):
        return "levels"
    if "/depth/" in path:
        return "depth"
    return "writes"


def from_golden():
    for path in sorted(glob.glob(os.path.join(ROOT, "..", "golden",
                                              "*.json"))):
        with open(path) as f:
            g = json.load(f)
        writes = g.get("writes", [])
        if "write" in g:
            writes = writes + [g["write"]]
        for w in writes:
            put(target_of(w.get("method"), w["path"]), w["body"])
        if "request" in g:
            req = dict(g["request"])
            put("score", req)
            # the fixed market's caps: small Monte Carlo variants
            req["paths"] = 200
            req["steps"] = 4
            put("score", req)


LOAN = {"id": "l1", "type": "loan", "protocol": "aave-v3",
        "collateral": [{"asset": "ETH", "amount": 10,
                        "liquidation_threshold": 0.8}],
        "debt": [{"asset": "USDC", "amount": 14000}]}
COUPLED = {"id": "c1", "type": "loan", "protocol": "morpho-blue",
           "collateral": [{"asset": "ETH", "amount": 10,
                           "liquidation_threshold": 0.8},
                          {"asset": "BTC", "amount": 1,
                           "liquidation_threshold": 0.7}],
           "debt": [{"asset": "USDC", "amount": 30000},
                    {"asset": "STETH", "amount": 2}]}
PERP = {"id": "p1", "type": "perp", "asset": "BTC", "side": "short",
        "size": 2, "entry_price": 50000, "margin": 12000,
        "maintenance_tiers": [{"max_notional": 50000, "mmr": 0.004},
                              {"mmr": 0.01, "maintenance_amount": 50}]}

SCORE = [
    {"positions": [LOAN]},
    {"positions": [LOAN, PERP], "horizon_days": 7, "tail_dof": 0,
     "cascade_threshold_bps": 50, "depth_scale": 0.5,
     "include_market_levels": False, "prices": {"ETH": 1800},
     "volatility": {"ETH": 0.0}},
    {"positions": [COUPLED, PERP], "paths": 300, "steps": 8, "seed": 3},
    {"positions": [dict(LOAN, protocol="compound-v3", close_factor=0.5,
                        liquidation_bonus=0.05)]},
    {"positions": [dict(LOAN, full_liquidation_below=1e400)]},
    '{"positions":[{"id":"\\ud800","type":"loan"}]}',
    '{"positions":[{"id":"x\xff","type":"perp"}]}'.encode("latin-1"),
    '{"positions":[],"paths":-0,"steps":1e-400}',
    '[' * 1200 + ']' * 1200,
    '{"positions":[' + ",".join(['{"id":"a","type":"perp"}'] * 3) + ']}',
]

DEPTH = [
    {"side": "bid", "points": [[100, 5000], [200, 9000]], "source": "x"},
    {"side": "ask", "levels": [["2001.5", "3"], [2010, 4, 99]],
     "mid": 2000},
    {"side": "bid", "quotes": [[1, 2], [10, 5], [100, 30]]},
    {"side": "ask", "constant_product": {"base_reserve": 1000,
                                         "quote_reserve": 2000000}},
    {"bids": [["1999", "1.5"], ["1990", "10"]], "asks": [["2001", "2"]],
     "lastUpdateId": 7},
    {"result": {"b": [["1999", "1"]], "a": [["2001", "1"]]}},
    {"data": [{"bids": [["1999", "1", "0", "1"]],
               "asks": [["2002", "3", "0", "2"]]}]},
    {"bids": [["2001", "1"]], "asks": [["1999", "1"]]},
    {"side": "bid", "points": [[1e400, -0.0]], "as_of": "2026-02-30T00:00:60Z"},
]

LEVELS = [
    {"levels": [{"price": 1900, "qty": 10, "side": "sell"},
                {"price": 2100, "qty": 5, "side": "buy"}],
     "as_of": "2026-11-26T00:00:00Z", "source": "feed"},
    {"levels": [{"price": 2500, "qty": 1, "side": "sell"}]},
    {"levels": []},
    {"levels": [{"price": 1e-400, "qty": 1e400, "side": "sell"}]},
]

WRITES = [
    {"price": 2100, "volatility": 0.9},
    {"price": 1},
    {"volatility": 0},
    {},
    {"pairs": [["ETH", "BTC", 0.82], ["STETH", "ETH", -1]]},
    {"pairs": [["ETH", "BTC", 0.99], ["ETH", "STETH", -0.99],
               ["BTC", "STETH", 0.99]]},
    {"pairs": [["ETH", "ETH", 1]]},
    {"pairs": [["ETH", "USD", 0.1], ["ETH", "BTC", 0.1],
               ["BTC", "ETH", 0.2]]},
]


# fz_api: operations separated by "\n--\n", each an op character and body
def ops(*items):
    out = []
    for op, body in items:
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":"))
        out.append(op + body)
    return "\n--\n".join(out)


API = [
    ops(("a", WRITES[0]), ("d", DEPTH[0]), ("l", LEVELS[0]),
        ("s", SCORE[0])),
    ops(("n", {"price": 3, "volatility": 1.5}), ("c", WRITES[4]),
        ("C", {"pairs": [["NEW", "ETH", 0.3]]}), ("s", SCORE[2])),
    ops(("d", DEPTH[4]), ("v", "fz"), ("v", "nope"), ("b", DEPTH[1]),
        ("L", LEVELS[1]), ("x", "BTC"), ("s", SCORE[2])),
    ops(("x", "ETH"), ("a", WRITES[0]), ("l", LEVELS[0]), ("x", "USD"),
        ("x", "../x")),
    ops(("a", {"volatility": 0}), ("s", SCORE[1]), ("a", {"price": 1e15}),
        ("d", DEPTH[3]), ("s", SCORE[0])),
]


def main():
    from_golden()
    for b in API:
        put("api", b)
    for b in SCORE:
        put("score", b)
    for b in DEPTH:
        put("depth", b)
    for b in LEVELS:
        put("levels", b)
    for b in WRITES:
        put("writes", b)


if __name__ == "__main__":
    main()
