// app.js - the page at /: builds or takes a POST /v1/score body, scores
// it, shows the answer and the charts of the same origin's API.  No
// framework, no inline code (the Content-Security-Policy forbids it), no
// writes.
'use strict';

const PRESETS = {
  loan: [
    { value: 'aave-v3', label: 'Aave v3 (close factor 0.5, bonus up to 5%)' },
    { value: 'morpho-blue', label: 'Morpho Blue (close factor 1, LLTV bonus)' },
    { value: 'compound-v3', label: 'Compound v3 (absorb)' },
  ],
  perp: [
    { value: 'binance', label: 'Binance-like (mmr 0.5%)', mmr: 0.005 },
    { value: 'hyperliquid', label: 'Hyperliquid-like (mmr 1.25%)', mmr: 0.0125 },
    { value: 'custom', label: 'custom (mmr below)' },
  ],
};

const $ = (id) => document.getElementById(id);
let markets = [];
let books = [];
const MAX_BOOKS = 10;
const blobUrls = [];

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function fmt(v, digits) {
  if (v === null || v === undefined) return '\u2014';
  if (typeof v !== 'number') return String(v);
  return v.toLocaleString('en-US', { maximumSignificantDigits: digits || 6 });
}

function numCell(v, digits) {
  // the exact number the API answered, for readers and tests
  const td = el('td', { class: 'num', 'data-value': v === null || v === undefined ? 'null' : String(v) },
    fmt(v, digits));
  return td;
}

function setStatus(text, isError) {
  const s = $('status');
  s.textContent = text;
  s.className = isError ? 'error' : '';
}

function problemText(p) {
  let t = (p.title || 'Error') + (p.detail ? ': ' + p.detail : '');
  for (const e of p.errors || []) t += '\n' + (e.pointer || '') + ' ' + (e.detail || '');
  return t;
}

function fillPresets() {
  const type = $('b-type').value;
  const sel = $('b-preset');
  sel.replaceChildren(...PRESETS[type].map((p) => el('option', { value: p.value }, p.label)));
  $('b-loan').hidden = type !== 'loan';
  $('b-perp').hidden = type !== 'perp';
  presetChanged();
}

function presetChanged() {
  const p = PRESETS[$('b-type').value].find((x) => x.value === $('b-preset').value);
  if (p && p.mmr !== undefined) $('b-mmr').value = p.mmr;
}

function fillAssets() {
  const vol = markets.filter((m) => m.volatility > 0).map((m) => m.asset);
  const all = markets.map((m) => m.asset).concat(markets.some((m) => m.asset === 'USD') ? [] : ['USD']);
  const fill = (id, list, pick) => {
    const s = $(id);
    s.replaceChildren(...list.map((a) => el('option', { value: a }, a)));
    if (list.includes(pick)) s.value = pick;
  };
  fill('b-coll', all, 'ETH');
  fill('b-debt', all, markets.some((m) => m.asset === 'USDC') ? 'USDC' : 'USD');
  fill('b-asset', vol, 'BTC');
  assetChanged();
}

function assetChanged() {
  const m = markets.find((x) => x.asset === $('b-asset').value);
  if (m && !$('b-entry').dataset.touched) $('b-entry').value = m.price;
}

function readPortfolio() {
  const text = $('portfolio').value.trim();
  if (text === '') return { positions: [] };
  const body = JSON.parse(text);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('the portfolio must be a JSON object');
  if (!Array.isArray(body.positions)) body.positions = [];
  return body;
}

function writePortfolio(body) {
  $('portfolio').value = JSON.stringify(body, null, 2);
}

function buildPosition() {
  const type = $('b-type').value;
  const id = $('b-id').value.trim() || 'p' + Date.now();
  const num = (x) => Number($(x).value);
  if (type === 'loan') {
    return {
      id, type: 'loan', protocol: $('b-preset').value,
      collateral: [{ asset: $('b-coll').value, amount: num('b-coll-amt'), liquidation_threshold: num('b-lt') }],
      debt: [{ asset: $('b-debt').value, amount: num('b-debt-amt') }],
    };
  }
  return {
    id, type: 'perp', asset: $('b-asset').value, side: $('b-side').value,
    size: num('b-size'), entry_price: num('b-entry'), leverage: num('b-lev'),
    maintenance_margin_rate: num('b-mmr'),
  };
}

function addPosition() {
  let body;
  try {
    body = readPortfolio();
  } catch (e) {
    setStatus('The portfolio is not valid JSON: ' + e.message, true);
    return;
  }
  body.positions.push(buildPosition());
  writePortfolio(body);
  const m = /^(.*?)(\d+)$/.exec($('b-id').value);
  $('b-id').value = m ? m[1] + (Number(m[2]) + 1) : $('b-id').value + '-2';
  setStatus('Added; ' + body.positions.length + ' position(s) in the portfolio.');
}

async function scoreBody(body, accept) {
  return fetch('/v1/score', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: accept },
    body: JSON.stringify(body),
  });
}

function showAnswer(ans) {
  const tbody = $('positions').querySelector('tbody');
  tbody.replaceChildren();
  for (const p of ans.positions) {
    const lps = p.liquidation_prices && p.liquidation_prices.length ? p.liquidation_prices : [null];
    lps.forEach((lp, k) => {
      const tr = el('tr', { 'data-position': p.id, 'data-k': String(k) });
      tr.append(el('th', { scope: 'row' }, k === 0 ? p.id : ''), el('td', {}, k === 0 ? p.type : ''),
        el('td', {}, lp ? lp.asset + ' ' + lp.direction : '\u2014'));
      tr.append(numCell(lp ? lp.price : null), numCell(lp ? lp.effective_price : null));
      tr.append(numCell(k === 0 ? p.p_liquidation : null, 4), numCell(k === 0 ? p.p_liquidation_static : null, 4),
        numCell(k === 0 ? p.expected_slippage_bps : null, 4));
      tr.children[3].classList.add('static-price');
      tr.children[4].classList.add('effective-price');
      tr.children[5].classList.add('p-liq');
      tr.children[6].classList.add('p-liq-static');
      tr.children[7].classList.add('slippage');
      tbody.append(tr);
    });
  }
  const pf = ans.portfolio || {};
  const figs = $('portfolio-figs');
  figs.replaceChildren(el('span', {}, 'Portfolio: p_any_liquidation '),
    el('strong', { id: 'p-any', 'data-value': String(pf.p_any_liquidation) }, fmt(pf.p_any_liquidation, 4)),
    el('span', {}, ', cascade probability ' + fmt(pf.cascade_probability, 4) +
      ', expected slippage ' + fmt(pf.expected_slippage_quote, 6) + ' USD, as of ' + ans.as_of + '.'));
  const ul = $('warnings');
  ul.replaceChildren(...(ans.warnings || []).map((w) => el('li', { 'data-code': w.code }, w.code + ': ' + (w.detail || w.message || ''))));
  if (!ul.children.length) ul.append(el('li', { class: 'muted' }, 'none'));
  $('result').hidden = false;
}

async function showPictures(body) {
  const box = $('pictures');
  while (blobUrls.length) URL.revokeObjectURL(blobUrls.pop());
  box.replaceChildren();
  for (const p of body.positions) {
    const one = Object.assign({}, body, { positions: [p] });
    const res = await scoreBody(one, 'image/svg+xml');
    const fig = el('figure');
    if (!res.ok || !(res.headers.get('Content-Type') || '').startsWith('image/svg+xml')) {
      const prob = await res.json().catch(() => ({}));
      fig.append(el('figcaption', {}, 'No picture of ' + p.id + ': ' + problemText(prob)));
    } else {
      const url = URL.createObjectURL(await res.blob());
      blobUrls.push(url);
      const img = el('img', { src: url, alt: 'Position ' + p.id + ': its liquidation prices on the liquidation map and p_liquidation against the horizon', width: '800', height: '700', 'data-position': p.id });
      fig.append(img, el('figcaption', {}, 'Position ' + p.id));
    }
    box.append(fig);
  }
}

async function submit() {
  let body;
  try {
    body = readPortfolio();
  } catch (e) {
    setStatus('The portfolio is not valid JSON: ' + e.message, true);
    return;
  }
  if (!body.positions.length) {
    setStatus('The portfolio has no position: build one above or paste a body.', true);
    return;
  }
  body.horizon_days = Number($('horizon').value);
  writePortfolio(body);
  setStatus('Scoring...');
  const res = await scoreBody(body, 'application/json');
  const ans = await res.json().catch(() => null);
  if (!res.ok || !ans) {
    setStatus('The API refused the portfolio (' + res.status + '):\n' + problemText(ans || {}), true);
    $('result').hidden = true;
    return;
  }
  showAnswer(ans);
  await showPictures(body);
  setStatus('Scored ' + ans.positions.length + ' position(s) over ' + ans.horizon_days + ' day(s).');
}

function chartFigure(src, alt, caption) {
  const fig = el('figure');
  fig.append(el('img', { src, alt, width: '800', height: '450' }), el('figcaption', {}, caption));
  return fig;
}

function showMarketCharts(asset) {
  const theme = $('theme').value;
  const a = encodeURIComponent(asset);
  $('market-charts').replaceChildren(
    el('h3', {}, asset),
    chartFigure('/v1/markets/' + a + '/liquidations.svg?range=0.5&bins=50&theme=' + theme,
      'Liquidation map of ' + asset, 'Liquidation map of ' + asset + ' (stored levels within 50% of the price)'),
    chartFigure('/v1/markets/' + a + '/cascade.svg?theme=' + theme,
      'Cascade curve of ' + asset, 'Cascade curve of ' + asset + ' (a fall)'));
}

async function loadMarkets() {
  const res = await fetch('/v1/markets', { headers: { Accept: 'application/json' } });
  if (!res.ok) {
    setStatus('The market list is unavailable (' + res.status + ').', true);
    return;
  }
  const list = await res.json();
  markets = (list.markets || list || []).filter((m) => m && m.asset);
  const tbody = $('market-list').querySelector('tbody');
  tbody.replaceChildren(...markets.map((m) => {
    const tr = el('tr');
    const b = el('button', { type: 'button', 'data-asset': m.asset }, 'Show charts of ' + m.asset);
    b.addEventListener('click', () => showMarketCharts(m.asset));
    const td = el('td');
    td.append(b);
    tr.append(el('th', { scope: 'row' }, m.asset), numCell(m.price), numCell(m.volatility, 4), td);
    return tr;
  }));
  fillAssets();
  const first = markets.find((m) => m.volatility > 0) || markets[0];
  if (first) showMarketCharts(first.asset);
}

// The volatile asset the book is most exposed to, in USD at the current
// price: collateral and long perps fall with it (down), debt and short
// perps rise (up).  null when the book holds none.
function largestAsset(detail) {
  let best = null;
  for (const a of detail.assets || []) {
    const m = markets.find((x) => x.asset === a.asset);
    if (!m || !(m.volatility > 0)) continue;
    const down = (a.collateral + a.perp_long) * m.price;
    const up = (a.debt + a.perp_short) * m.price;
    const value = Math.max(down, up);
    if (value > 0 && (!best || value > best.value)) best = { asset: a.asset, direction: down >= up ? 'down' : 'up', value };
  }
  return best;
}

function showBooks() {
  const theme = $('theme').value;
  $('book-list').querySelector('tbody').replaceChildren(...books.map((b) => {
    const tr = el('tr', { 'data-book': b.meta.book });
    const run = el('button', { type: 'button', 'data-book': b.meta.book }, 'Simulate');
    run.setAttribute('aria-label', 'Simulate book ' + b.meta.book);
    run.addEventListener('click', () => { simulate(b.meta.book).catch((e) => simStatus('Failed: ' + e.message, true)); });
    const td = el('td', {});
    td.append(run);
    tr.append(el('th', { scope: 'row' }, b.meta.book), numCell(b.meta.positions), el('td', {}, b.meta.as_of || '\u2014'),
      el('td', {}, b.pick ? b.pick.asset + ' ' + b.pick.direction : 'none'), td);
    return tr;
  }));
  $('book-charts').replaceChildren(...books.map((b) => {
    if (!b.pick) return el('p', { class: 'muted' }, 'Book ' + b.meta.book + ' holds no position on a volatile asset.');
    const src = '/v1/books/' + encodeURIComponent(b.meta.book) + '/risk.svg?asset=' + encodeURIComponent(b.pick.asset) +
      '&direction=' + b.pick.direction + '&theme=' + theme;
    const fig = chartFigure(src, 'Liquidated value and bad debt of book ' + b.meta.book + ' against a shock of ' +
      b.pick.asset + ' (' + b.pick.direction + '), with and without the cascade',
    'Book ' + b.meta.book + ': a shock of ' + b.pick.asset + ' (' + b.pick.direction + ')');
    fig.querySelector('img').setAttribute('data-book', b.meta.book);
    return fig;
  }));
}

function simStatus(text, isError) {
  const s = $('sim-status');
  s.textContent = text;
  s.className = isError ? 'error' : '';
}

// The figure's value at quantile q of its "var" list (null when absent).
function varAt(fig, q) {
  const v = ((fig && fig.var) || []).find((x) => x.q === q);
  return v ? v.value : null;
}

// POST /v1/books/{book}/simulate with the paths and horizon chosen; the
// answer's figures in a row of #sim-result (the newest first).
async function simulate(book) {
  const body = { paths: Number($('sim-paths').value), horizon_days: Number($('sim-horizon').value) };
  const buttons = [...document.querySelectorAll('#book-list button')];
  buttons.forEach((b) => { b.disabled = true; });
  simStatus('Simulating ' + book + ' over ' + body.paths + ' paths\u2026');
  const t0 = performance.now();
  try {
    const res = await fetch('/v1/books/' + encodeURIComponent(book) + '/simulate', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const j = await res.json();
    if (!res.ok) {
      simStatus(res.status + ' ' + problemText(j) + (res.headers.get('Retry-After') ? ' (retry after ' +
        res.headers.get('Retry-After') + ' s)' : ''), true);
      return;
    }
    const secs = (performance.now() - t0) / 1000;
    const tr = el('tr', { 'data-book': book });
    tr.append(el('th', { scope: 'row' }, book), numCell(j.paths), numCell(j.horizon_days), numCell(j.p_any_liquidation, 4),
      numCell(j.liquidated_value.expected), numCell(varAt(j.liquidated_value, 0.99)),
      numCell(j.bad_debt.expected), numCell(varAt(j.bad_debt, 0.99)),
      numCell(j.liquidated_positions.expected), el('td', { class: 'num' }, secs.toFixed(2)));
    $('sim-result').querySelector('tbody').prepend(tr);
    simStatus('Simulated ' + book + ': ' + j.paths_walked + ' of ' + j.paths + ' paths walked step by step' +
      ((j.warnings || []).length ? '; warnings: ' + j.warnings.map((w) => w.code || w).join(', ') : '') + '.');
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

async function loadBooks() {
  const res = await fetch('/v1/books', { headers: { Accept: 'application/json' } });
  if (!res.ok) {
    $('book-status').textContent = 'The book list is unavailable (' + res.status + ').';
    return;
  }
  const list = ((await res.json()).books || []).slice(0, MAX_BOOKS);
  const details = await Promise.all(list.map((b) => fetch('/v1/books/' + encodeURIComponent(b.book),
    { headers: { Accept: 'application/json' } }).then((r) => (r.ok ? r.json() : {}))));
  books = list.map((meta, k) => ({ meta, pick: largestAsset(details[k]) }));
  $('book-status').textContent = books.length ? '' : 'No book is loaded (PUT /v1/books/{book} writes one).';
  showBooks();
}

document.addEventListener('DOMContentLoaded', () => {
  $('b-type').addEventListener('change', fillPresets);
  $('b-preset').addEventListener('change', presetChanged);
  $('b-asset').addEventListener('change', assetChanged);
  $('b-entry').addEventListener('input', () => { $('b-entry').dataset.touched = '1'; });
  $('b-add').addEventListener('click', addPosition);
  $('clear').addEventListener('click', () => { writePortfolio({ positions: [] }); setStatus('Cleared.'); });
  $('submit').addEventListener('click', () => { submit().catch((e) => setStatus('Failed: ' + e.message, true)); });
  $('theme').addEventListener('change', () => {
    const h = $('market-charts').querySelector('h3');
    if (h) showMarketCharts(h.textContent);
    showBooks();
  });
  fillPresets();
  writePortfolio({ positions: [] });
  loadMarkets().then(loadBooks).catch((e) => setStatus('Failed: ' + e.message, true));
});
