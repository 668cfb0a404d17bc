-- 0001_market_data.sql - the market-data cache of docs/model.md section 1.
--
-- Assets own everything else (ON DELETE CASCADE).  A venue's curve of one
-- side is one depth_curves row plus its points; replacing it deletes the
-- row (points cascade) and inserts the new one in one transaction.  Levels
-- carry an insertion sequence (the AUTOINCREMENT rowid) for tie order.
-- Correlations are stored once per unordered pair with a < b.

CREATE TABLE assets (
	symbol TEXT PRIMARY KEY NOT NULL
		CHECK (length(symbol) BETWEEN 1 AND 16),
	price REAL NOT NULL CHECK (price > 0),
	volatility REAL NOT NULL CHECK (volatility >= 0),
	updated_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE depth_curves (
	id INTEGER PRIMARY KEY,
	asset TEXT NOT NULL REFERENCES assets(symbol) ON DELETE CASCADE,
	venue TEXT NOT NULL CHECK (length(venue) BETWEEN 1 AND 64),
	side INTEGER NOT NULL CHECK (side IN (0, 1)),	-- 0 bid, 1 ask
	as_of TEXT NOT NULL,
	UNIQUE (asset, venue, side)
);

CREATE TABLE depth_points (
	curve_id INTEGER NOT NULL
		REFERENCES depth_curves(id) ON DELETE CASCADE,
	k INTEGER NOT NULL,
	bps REAL NOT NULL CHECK (bps > 0),
	qty REAL NOT NULL CHECK (qty >= 0),
	PRIMARY KEY (curve_id, k)
) WITHOUT ROWID;

CREATE TABLE liquidation_levels (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	asset TEXT NOT NULL REFERENCES assets(symbol) ON DELETE CASCADE,
	price REAL NOT NULL CHECK (price > 0),
	qty REAL NOT NULL CHECK (qty > 0),
	side INTEGER NOT NULL CHECK (side IN (0, 1)),	-- 0 sell, 1 buy
	source TEXT NOT NULL DEFAULT '',
	as_of TEXT NOT NULL
);
CREATE INDEX liquidation_levels_asset ON liquidation_levels(asset, seq);

CREATE TABLE correlations (
	a TEXT NOT NULL REFERENCES assets(symbol) ON DELETE CASCADE,
	b TEXT NOT NULL REFERENCES assets(symbol) ON DELETE CASCADE,
	rho REAL NOT NULL CHECK (rho BETWEEN -1 AND 1),
	PRIMARY KEY (a, b),
	CHECK (a < b)
) WITHOUT ROWID;
CREATE INDEX correlations_b ON correlations(b);
