#!/usr/bin/env python3
"""convert.py - build data/seed.json from public market-data files.

Standard library only.  Run from anywhere:
    python3 data/convert.py [--shared DIR]
The public files are NOT in this repository (data/README.md names each
one: repository, commit, path, licence).  They are read from DIR, which
holds one folder per source set (aave-hourly-prices-2021-2023/,
uniswap-v3-usdc-weth-2026-01/, vesta-liquidations-2022-10-10/,
compound-v2-borrowers-2023-03/); DIR is
--shared, else $CASCADED_SHARED_DATA, else ../shared/data beside the
repository's root.  Only this developer tool reads them: the build, the
tests and the container use the committed data/seed.json.
It rewrites data/seed.json deterministically (same inputs, same bytes) and
prints the derived figures that data/README.md quotes.

What it derives (details and reasons in data/README.md):
- the market state of 2023-03-27 13:00 UTC, the hour of the Compound v2
  book: prices from the Compound set's hourly price file at that hour
  (STETH: that ETH price times the last Aave stETH/WETH ratio; CRV: its
  last Aave price, 2023-02-26; stable assets 1).
- the `books` key: the Compound v2 borrowers as `loan` positions
  (compound_book()), and the book's other markets (30-day volatility and
  correlations of the Compound price file).
- volatility: realised volatility of log returns over the last 90 days of
  the hourly Aave series, sigma = sqrt(sum r_i^2 / T) with T the elapsed
  time in 365-day years (robust to the irregular spacing); USDC and DAI
  are stable assets (volatility 0, docs/model.md section 1).
- correlations: Pearson correlation of hourly log returns over the same 90
  days, on a common hourly grid (last price at or before each hour).
- ETH depth: the Uniswap slippage tables in the `quotes` form of
  docs/model.md section 1 (trade size in ETH, average slippage in bps); the
  service turns them into points with that section's rule when it seeds
  (lc_curve_from_quotes).
- BTC depth: one bid point from Risk DAO's DEX-aggregator volume for renBTC
  (USD sellable before a 10 % move) / renBTC price.
- liquidation levels: Vesta's liquidation map (cumulative debt liquidatable
  at each collateral price) differenced into debt per level, converted to
  collateral sold: debt * (1 + bonus) / level price, bonus = MCR - 1 = 10 %;
  level prices rescaled by seed price / Vesta spot price (same distance
  from spot as on 2022-10-10).
- price history ("prices", add_price_history): Binance hourly candles of
  BTC, ETH and LINK up to the seed date 2023-03-27T13:00:00Z (the last 90
  days hourly, the 640 days before as daily candles aggregated with true
  highs and lows), the Compound v2 set's hourly prices as points for the
  other volatile seed assets it covers; read from binance-ohlc-1h/ and
  compound-v2-borrowers-2023-03/.
"""

import argparse
import csv
import datetime
import json
import math
import os
import sys
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SETS = ("aave-hourly-prices-2021-2023", "uniswap-v3-usdc-weth-2026-01",
        "vesta-liquidations-2022-10-10", "compound-v2-borrowers-2023-03")
# Set by main() from --shared / $CASCADED_SHARED_DATA.
AAVE = UNI = VESTA = COMP = ""

# seed symbol -> Aave price file symbol
SERIES = {"ETH": "WETH", "BTC": "WBTC", "STETH": "stETH", "LINK": "LINK",
          "CRV": "CRV", "USDC": "USDC", "DAI": "DAI"}
STABLE = {"USDC", "DAI"}
WINDOW_DAYS = 90
YEAR_S = 365.0 * 86400.0
HOUR_MS = 3600 * 1000


def load_series(sym):
    rows = []
    with open(os.path.join(AAVE, sym + "_usd.csv"), newline="") as f:
        for r in csv.DictReader(f):
            rows.append((int(r["timestamp"]), float(r["USD_price"])))
    rows.sort()
    return rows


def realised_vol(rows, t_end):
    t0 = t_end - WINDOW_DAYS * 86400 * 1000
    pts = [(t, p) for t, p in rows if t0 <= t <= t_end and p > 0]
    ss = 0.0
    for (ta, pa), (tb, pb) in zip(pts, pts[1:]):
        ss += math.log(pb / pa) ** 2
    years = (pts[-1][0] - pts[0][0]) / 1000.0 / YEAR_S
    return math.sqrt(ss / years), len(pts)


def hourly_grid(rows, t_start, t_end):
    """Last price at or before each hour boundary in [t_start, t_end]."""
    out = []
    i = 0
    h = t_start - t_start % HOUR_MS + HOUR_MS
    last = None
    while h <= t_end:
        while i < len(rows) and rows[i][0] <= h:
            last = rows[i][1]
            i += 1
        out.append(last)
        h += HOUR_MS
    return out


def corr(x, y):
    n = len(x)
    mx = sum(x) / n
    my = sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def quotes_to_points(quotes):
    """docs/model.md section 1 `quotes` rule, for the README's figures only."""
    pts, i_last, q_last, d_last = [], 0.0, 0.0, 0.0
    for q, a in quotes:
        d = 2.0 * (q * a - i_last) / (q - q_last) - d_last
        if d > d_last:
            pts.append((d, q))
            i_last, q_last, d_last = q * a, q, d
    return pts


# ---- price history (docs/model.md section 9) -------------------------------
# The agreed seed date: history up to (not including) this hour.
SEED_DATE = "2023-03-27T13:00:00Z"
SEED_T = 1679922000
BINANCE = {"BTC": "BTCUSDT_1h.csv", "ETH": "ETHUSDT_1h.csv",
           "LINK": "LINKUSDT_1h.csv"}
HOURLY_DAYS = 90
DAILY_DAYS = 640
COMPOUND_PRICES = ("compound-v2-borrowers-2023-03/"
                   "repo_hourly_prices_2023-02-24_to_2023-03-27.csv")


def num(text):
    """A source number as JSON shows it: int when whole, else the float."""
    v = float(text)
    return int(v) if v == int(v) and abs(v) < 2 ** 53 else v


def binance_history(path):
    """Hourly candles opening in the last HOURLY_DAYS days before the seed
    date (from midnight UTC), daily candles aggregated from the hourly ones
    (open of the first, true high and low, close of the last) for the
    DAILY_DAYS days before: [[t, open, high, low, close], ...]."""
    t_hourly = (SEED_T - HOURLY_DAYS * 86400) // 86400 * 86400
    t_daily = t_hourly - DAILY_DAYS * 86400
    hourly, days = [], {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            t = int(r["time"])
            if t < t_daily or t >= SEED_T:
                continue
            c = [t, num(r["open"]), num(r["high"]), num(r["low"]),
                 num(r["close"])]
            if t >= t_hourly:
                hourly.append(c)
                continue
            d = t - t % 86400
            if d not in days:
                days[d] = [d, c[1], c[2], c[3], c[4]]
            else:
                g = days[d]
                g[2] = max(g[2], c[2])
                g[3] = min(g[3], c[3])
                g[4] = c[4]
    return [days[d] for d in sorted(days)] + hourly


def compound_points(path, sym):
    """The Compound set's hourly prices of `sym` before the seed date as
    [[t, price], ...]."""
    pts = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["asset"] != sym:
                continue
            t = int(datetime.datetime.strptime(
                r["hour_utc"], "%Y-%m-%d %H:%M").replace(
                tzinfo=datetime.timezone.utc).timestamp())
            if t < SEED_T:
                pts.append([t, num(r["price_usd"])])
    pts.sort()
    return pts


def add_price_history(out, shared):
    """out["prices"]: the bodies of POST /v1/markets/{asset}/prices for the
    seed's assets: Binance candles (BTC, ETH, LINK), else the Compound set's
    hourly points; stable assets (volatility 0 by docs/model.md section 1)
    get none, so they stay explicit.  Returns figures for the report."""
    out["prices"] = []
    report = {}
    comp = os.path.join(shared, COMPOUND_PRICES)
    for m in out["markets"]:
        sym = m["asset"]
        if sym in STABLE:
            continue
        if sym in BINANCE:
            c = binance_history(os.path.join(shared, "binance-ohlc-1h",
                                             BINANCE[sym]))
            body = {"candles": c}
        else:
            c = compound_points(comp, sym)
            body = {"points": c}
        if not c:
            continue
        out["prices"].append({"asset": sym, "body": body})
        report["prices_" + sym] = (len(c), c[0][0], c[-1][0])
    return report


def dump_seed(out):
    """seed.json text: indented, but each price entry on one line."""
    prices = out.pop("prices", None)
    text = json.dumps(out, indent=1, sort_keys=False)
    if prices is not None:
        out["prices"] = prices
        rows = []
        for p in prices:
            key = "candles" if "candles" in p["body"] else "points"
            items = ",\n   ".join(json.dumps(c, separators=(",", ":"))
                                  for c in p["body"][key])
            rows.append(' {"asset": %s, "body": {"%s": [\n   %s\n ]}}' %
                        (json.dumps(p["asset"]), key, items))
        text = text[:-2] + ',\n "prices": [\n' + ",\n".join(rows) + \
            "\n ]\n}"
    return text + "\n"


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---- Compound v2 borrowers book; the seed's 2023-03-27 market state -----
# (data/README.md "Compound v2 book": sources, the collateral factor table,
# what is dropped and why.)
SEED_HOUR = "2023-03-27 13:00"
SEED_AS_OF = "2023-03-27T13:00:00Z"
COMP_PRICES = "repo_hourly_prices_2023-02-24_to_2023-03-27.csv"
COMP_VOL_DAYS = 30
# Compound v2 collateral factors in March 2023, by cToken address (sources
# per row in data/README.md "Collateral factors").
COLLATERAL_FACTOR = {
    "0x4ddc2d193948926d02f9b1fe9e1daa0718270ed5": 0.825,  # cETH
    "0xccf4429db6322d5c611ee964527d42e5d685dd6a": 0.70,   # cWBTC2
    "0x39aa39c021dfbae8fac545936693ac917d5e7563": 0.855,  # cUSDC
    "0x5d3a536e4d6dbd6114cc1ead35777bab948e3643": 0.835,  # cDAI
    "0xf650c3d88d12db855b8bf7d11be6c55a4e07dcc9": 0.0,    # cUSDT
    "0x35a18000230da775cac24873d00ff85bccded550": 0.75,   # cUNI
    "0xface851a4921ce59e912d19329929ce6da6eb0c7": 0.79,   # cLINK
    "0x70e36f6bf80a52b3b46b3af8e106cc0ed743e8e4": 0.60,   # cCOMP
    "0x6c8c6b02e7b2be14d4fa6022dfd6d75921d90e4e": 0.65,   # cBAT
    "0xb3319f5d18bc0d84dd1b4825dcde5d5f7266d407": 0.65,   # cZRX
    "0x4b0181102a0112a2ef11abee5563bb4a3176c9d7": 0.67,   # cSUSHI
    "0x80a2ae356fc9ef4305676f7a3e2ed04e12c33946": 0.75,   # cYFI
    "0xe65cdb6479bac1e22340e4e755fae7e509ecd06c": 0.73,   # cAAVE
    "0x12392f67bdf24fae0af363c24ac620a2f67dad86": 0.80,   # cTUSD
    "0x041171993284df560249b57358f931d9eb7b925d": 0.0,    # cUSDP
    "0x7713dd9ca933848f6819f38b8352d9a15ea73f67": 0.0,    # cFEI
    "0xf5dce57282a584d2746faf1593d3121fcac444dc": 0.0,    # cSAI (legacy)
    "0x158079ee67fce2f58472a96584a73c7ab9ac95c1": 0.0,    # cREP
    "0xc11b1268c1a384e55c48c2391d8d480264a3a7f4": 0.0,    # cWBTC (legacy)
}
# underlying (as the data names it) -> seed asset; None: no price, dropped
UNDERLYING = {
    "ETH": "ETH", "WBTC": "BTC", "WBTC(legacy cWBTC)": "BTC",
    "USDC": "USDC", "DAI": "DAI", "USDT": "USDT", "TUSD": "TUSD",
    "USDP": "USDP", "UNI": "UNI", "LINK": "LINK", "COMP": "COMP",
    "BAT": "BAT", "ZRX": "ZRX", "SUSHI": "SUSHI", "AAVE": "AAVE",
    "YFI": None, "REP": None, "FEI": None,
    "SAI(legacy cSAI, symbol cDAI)": None,
}
# seed asset -> symbol of the Compound price file (None: stable, price 1)
BOOK_MARKETS = {
    "UNI": "UNI", "COMP": "COMP", "BAT": "BAT", "ZRX": "ZRX",
    "SUSHI": "SUSHI", "AAVE": "AAVE", "USDT": None, "TUSD": None,
    "USDP": None,
}
BOOK_STABLE = {"USDC", "DAI", "USDT", "TUSD", "USDP"}
LIQUIDATION_BONUS = 0.08  # Compound v2 liquidationIncentive 1.08
CLOSE_FACTOR = 0.5


def comp_prices():
    """{asset: [(hour, price), ...]} of the Compound price file, sorted."""
    out = {}
    for r in read_csv(os.path.join(COMP, COMP_PRICES)):
        out.setdefault(r["asset"], []).append((r["hour_utc"],
                                               float(r["price_usd"])))
    for rows in out.values():
        rows.sort()
    return out


def comp_vol(rows):
    """Realised volatility of the hourly log returns of the last
    COMP_VOL_DAYS days to SEED_HOUR: sqrt(sum r^2 / T), T in years."""
    pts = [p for h, p in rows if h <= SEED_HOUR][-(COMP_VOL_DAYS * 24 + 1):]
    ss = sum(math.log(b / a) ** 2 for a, b in zip(pts, pts[1:]))
    return math.sqrt(ss / ((len(pts) - 1) * 3600.0 / YEAR_S)), len(pts) - 1


def comp_corr(series, a, b):
    """Correlation of hourly log returns of a and b over the vol window."""
    ga = dict(series[a])
    gb = dict(series[b])
    hours = sorted(h for h in ga if h in gb and h <= SEED_HOUR)
    hours = hours[-(COMP_VOL_DAYS * 24 + 1):]
    ra = [math.log(ga[y] / ga[x]) for x, y in zip(hours, hours[1:])]
    rb = [math.log(gb[y] / gb[x]) for x, y in zip(hours, hours[1:])]
    return corr(ra, rb)


def sig(x):
    return float("%.12g" % x)


def merge_entries(entries):
    """Same-asset entries merged: amounts add, thresholds weighted."""
    out = {}
    for e in entries:
        m = out.setdefault(e["asset"], dict(e, amount=0.0, lt_w=0.0))
        m["amount"] += e["amount"]
        m["lt_w"] += e["amount"] * e.get("liquidation_threshold", 0.0)
    res = []
    for a in sorted(out):
        m = out[a]
        e = {"asset": a, "amount": sig(m["amount"])}
        if "liquidation_threshold" in m:
            e["liquidation_threshold"] = sig(m["lt_w"] / m["amount"])
        res.append(e)
    return res


def compound_book(price):
    """The Compound v2 borrowers as `loan` positions (docs/model.md 3.1)
    and the figures data/README.md quotes."""
    rates = {r["ctoken"]: float(r["est_exchange_rate_p99"])
             for r in read_csv(os.path.join(
                 COMP, "markets_est_exchange_rates.csv"))}
    accounts = {}
    for r in read_csv(os.path.join(COMP, "positions_long.csv")):
        accounts.setdefault(r["account"], []).append(r)
    rep = {"accounts_with_borrow": 0, "loans": 0,
           "dropped_unpriced_accounts": 0, "dropped_unpriced_debt_usd": 0.0,
           "dropped_cf0_collateral_entries": 0, "debt_only_loans": 0,
           "debt_usd": 0.0, "collateral_usd": 0.0}
    positions = []
    for acct in sorted(accounts):
        rows = accounts[acct]
        if not any(float(r["stored_borrow_balance"]) > 0 for r in rows):
            continue
        rep["accounts_with_borrow"] += 1
        coll, debt, unpriced, known = [], [], False, 0.0
        for r in rows:
            asset = UNDERLYING[r["underlying"]]
            cf = COLLATERAL_FACTOR[r["ctoken"]]
            bal = float(r["ctoken_balance"])
            owed = float(r["stored_borrow_balance"])
            if bal > 0 and cf == 0:
                rep["dropped_cf0_collateral_entries"] += 1
            elif bal > 0:
                if asset is None:
                    unpriced = True
                else:
                    coll.append({"asset": asset,
                                 "amount": bal * rates[r["ctoken"]],
                                 "liquidation_threshold": cf})
            if owed > 0:
                if asset is None:
                    unpriced = True
                else:
                    debt.append({"asset": asset, "amount": owed})
                    known += owed * price[asset]
        if unpriced:
            rep["dropped_unpriced_accounts"] += 1
            rep["dropped_unpriced_debt_usd"] += known
            continue
        coll, debt = merge_entries(coll), merge_entries(debt)
        if not coll:
            rep["debt_only_loans"] += 1
        rep["debt_usd"] += sum(e["amount"] * price[e["asset"]] for e in debt)
        rep["collateral_usd"] += sum(e["amount"] * price[e["asset"]]
                                     for e in coll)
        positions.append({"id": acct, "type": "loan", "protocol": "aave-v3",
                          "collateral": coll, "debt": debt,
                          "liquidation_bonus": LIQUIDATION_BONUS,
                          "close_factor": CLOSE_FACTOR,
                          "full_liquidation_below": 0})
    rep["loans"] = len(positions)
    rep["debt_usd"] = round(rep["debt_usd"])
    rep["collateral_usd"] = round(rep["collateral_usd"])
    rep["dropped_unpriced_debt_usd"] = round(rep["dropped_unpriced_debt_usd"])
    book = {"name": "compound-v2", "as_of": SEED_AS_OF,
            "source": "Compound v2 borrowers, The Graph via "
                      "rtuchman/compound-risk-optimization@f7b808af "
                      "(data/README.md)",
            "positions": positions}
    return book, rep


def books_json(books):
    """The "books" member, compact: one position per line."""
    parts = []
    for b in books:
        head = {k: v for k, v in b.items() if k != "positions"}
        pos = ",\n".join(json.dumps(p, separators=(",", ":"))
                         for p in b["positions"])
        parts.append(json.dumps(head)[:-1] + ', "positions": [\n' + pos +
                     "\n]}")
    return ' "books": [\n' + ",\n".join(parts) + "\n ]"


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Build data/seed.json from the public source files.")
    ap.add_argument("--shared", metavar="DIR",
                    default=os.environ.get("CASCADED_SHARED_DATA",
                                           str(DEFAULT_SHARED)),
                    help="folder holding the source sets (default: "
                         "$CASCADED_SHARED_DATA, else ../shared/data beside "
                         "the repository)")
    return ap.parse_args(argv)


def main(argv=None):
    global AAVE, UNI, VESTA, COMP
    args = parse_args(argv)
    shared = os.path.abspath(args.shared)
    missing = [d for d in SETS if not os.path.isdir(os.path.join(shared, d))]
    if missing:
        sys.exit("convert.py: %s lacks %s (see data/README.md for where "
                 "the files come from; --shared DIR)" %
                 (shared, ", ".join(missing)))
    AAVE, UNI, VESTA, COMP = (os.path.join(shared, d) for d in SETS)
    out = {
        "description": "Seed market data of cascaded, generated by "
                       "data/convert.py from public files (sources and "
                       "provenance in data/README.md). The bodies are the "
                       "ones the write API accepts.",
        "markets": [], "depth": [], "liquidations": [],
        "correlations": {"pairs": []},
    }
    series = {s: load_series(f) for s, f in SERIES.items()}
    t_end = min(rows[-1][0] for rows in series.values())

    # ETH price from the pool: token1 (WETH, 18 dec) per token0 (USDC, 6).
    meta = json.load(open(os.path.join(UNI, "ETHUSDC_0p05_mainnet.meta.json")))
    sqrtp = int(meta["sqrtPriceX96"]) / 2.0 ** 96
    eth_price = 1.0 / (sqrtp * sqrtp * 1e-12)
    prices = {s: series[s][-1][1] for s in SERIES}
    prices["ETH"] = eth_price
    # The seed's market state is that of the Compound book: 2023-03-27
    # 13:00 UTC prices where the Compound price file has the asset; STETH
    # keeps its last Aave stETH/WETH ratio (2023-02-26) times that ETH
    # price; CRV (not in the file) keeps its last Aave price.
    cseries = comp_prices()
    at_hour = {a: dict(rows)[SEED_HOUR] for a, rows in cseries.items()}
    steth_ratio = series["STETH"][-1][1] / series["ETH"][-1][1]
    for s_ in ("ETH", "BTC", "LINK"):
        prices[s_] = at_hour[s_]
    prices["STETH"] = prices["ETH"] * steth_ratio

    report = {"window_end_ms": t_end}
    vols = {}
    for s in SERIES:
        v, n = realised_vol(series[s], t_end)
        report["vol_" + s] = (round(v, 4), n)
        vols[s] = 0.0 if s in STABLE else round(v, 4)
        out["markets"].append({"asset": s, "body": {
            "price": round(prices[s], 6) if s not in STABLE else 1.0,
            "volatility": vols[s]}})

    # the Compound book's other markets: 2023-03-27 13:00 prices, 30-day
    # realised volatility of the Compound price file; stables at 1, vol 0
    for s_, f in BOOK_MARKETS.items():
        if f is None:
            prices[s_] = 1.0
            out["markets"].append({"asset": s_, "body": {
                "price": 1.0, "volatility": 0.0}})
            continue
        v, n = comp_vol(cseries[f])
        prices[s_] = at_hour[f]
        report["vol_" + s_] = (round(v, 4), n)
        out["markets"].append({"asset": s_, "body": {
            "price": prices[s_], "volatility": round(v, 4)}})

    # correlations of hourly log returns, volatile assets only
    t_start = t_end - WINDOW_DAYS * 86400 * 1000
    grids = {s: hourly_grid(series[s], t_start, t_end)
             for s in SERIES if s not in STABLE}
    rets = {s: [math.log(b / a) for a, b in zip(g, g[1:])]
            for s, g in grids.items()}
    syms = sorted(rets)
    for i, a in enumerate(syms):
        for b in syms[i + 1:]:
            out["correlations"]["pairs"].append(
                [a, b, round(corr(rets[a], rets[b]), 4)])

    # pairs with a Compound book market: the Compound price file, 30 days
    book_vol = sorted(a for a in cseries if a in BOOK_MARKETS or
                      a in ("ETH", "BTC", "LINK"))
    book_vol = [a for a in book_vol if a not in BOOK_STABLE and
                a not in ("USDC", "TUSD", "USDP")]
    for i, a in enumerate(book_vol):
        for b in book_vol[i + 1:]:
            if a in BOOK_MARKETS or b in BOOK_MARKETS:
                out["correlations"]["pairs"].append(
                    [a, b, round(comp_corr(cseries, a, b), 4)])

    # ETH depth from the Uniswap v3 slippage tables (quotes form)
    as_of_uni = "2026-01-24T00:00:00Z"
    sell = read_csv(os.path.join(UNI, "02_slippage_curve_weth_to_usdc.csv"))
    bid = [[float(r["trade_weth"]), -float(r["slippage_frac"]) * 1e4]
           for r in sell]
    buy = read_csv(os.path.join(UNI, "02_slippage_curve_usdc_to_weth.csv"))
    ask = [[round(float(r["trade_usdc"]) / eth_price, 9),
            -float(r["slippage_frac"]) * 1e4] for r in buy]
    for side, q in (("bid", bid), ("ask", ask)):
        out["depth"].append({"asset": "ETH", "venue": "uniswap-v3-usdc-weth-0.05",
                             "body": {"side": side, "as_of": as_of_uni,
                                      "quotes": q}})
        report["points_" + side] = quotes_to_points(q)

    # Vesta (Risk DAO) snapshot
    acc = json.load(open(os.path.join(VESTA, "accounts.json")))
    plat = json.load(open(os.path.join(VESTA, "lending_platform_current.json")))
    vol = json.load(open(os.path.join(VESTA, "usd_volume_for_slippage.json")))
    as_of_vesta = "2022-10-10T13:55:44Z"
    for sym, vsym in (("ETH", "ETH"), ("BTC", "renBTC")):
        spot = plat["prices"][vsym]
        bonus = 1.0 / plat["collateral_factors"][vsym] - 1.0  # MCR - 1
        graph = acc[vsym]["graph_data"]["VST"]
        lv = sorted(((float(p), float(d)) for p, d in graph.items()),
                    reverse=True)
        levels, prev = [], 0.0
        for p, cum in lv:
            debt = cum - prev
            prev = cum
            if p <= 0 or debt <= 0:
                continue
            qty = debt * (1.0 + bonus) / p
            levels.append({"price": round(p * prices[sym] / spot, 6),
                           "qty": round(qty, 9), "side": "sell"})
        report["levels_" + sym] = (len(levels), round(bonus, 6),
                                   sum(l["qty"] for l in levels))
        out["liquidations"].append({"asset": sym, "body": {
            "levels": levels, "as_of": as_of_vesta,
            "source": "vesta-2022-10-10 (Risk DAO), rescaled to seed price"}})
    v = vol["renBTC"]["VST"]
    bps = round((v["llc"] - 1.0) * 1e4, 6)
    qty = round(v["volume"] / plat["prices"]["renBTC"], 6)
    out["depth"].append({"asset": "BTC", "venue": "dex-aggregators-2022",
                         "body": {"side": "bid", "as_of": as_of_vesta,
                                  "points": [[bps, qty]]}})
    report["btc_point"] = (bps, qty)

    book, report["book_compound_v2"] = compound_book(prices)
    report.update(add_price_history(out, shared))

    with open(os.path.join(HERE, "seed.json"), "w") as f:
        text = dump_seed(out)
        f.write(text.rstrip()[:-1].rstrip() + ",\n" + books_json([book]) +
                "\n}\n")
    json.dump(report, sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
