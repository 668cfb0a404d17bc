-- 0003_price_history.sql - price history and the volatility source of
-- docs/model.md section 9.
--
-- One row per asset and candle opening time t (unix seconds); a point
-- written as [t, price] is stored as a candle with open = high = low =
-- close.  The asset owns its history (ON DELETE CASCADE).
--
-- volatility_source says which volatility the score uses: 'explicit' (the
-- written `volatility`) or 'history' (the estimators over this table, the
-- written volatility while there is too little history).  A price write
-- sets 'history' unless volatility_pinned (PUT /v1/markets/{asset} with
-- "volatility_source": "explicit").

CREATE TABLE prices (
	asset TEXT NOT NULL REFERENCES assets(symbol) ON DELETE CASCADE,
	t INTEGER NOT NULL,
	open REAL NOT NULL CHECK (open > 0),
	high REAL NOT NULL CHECK (high > 0),
	low REAL NOT NULL CHECK (low > 0),
	close REAL NOT NULL CHECK (close > 0),
	PRIMARY KEY (asset, t)
) WITHOUT ROWID;

ALTER TABLE assets ADD COLUMN volatility_source TEXT NOT NULL
	DEFAULT 'explicit' CHECK (volatility_source IN ('explicit', 'history'));
ALTER TABLE assets ADD COLUMN volatility_pinned INTEGER NOT NULL
	DEFAULT 0 CHECK (volatility_pinned IN (0, 1));
