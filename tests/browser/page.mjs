// page.mjs - the page at / in a real browser: Debian's chromium driven by
// playwright-core (never a downloaded browser).  Starts build/cascaded on
// loopback with a seeded temporary database, builds a portfolio with the
// page's own controls (a loan and a perp from the presets), submits it
// from the keyboard, and checks that the numbers shown are those of
// POST /v1/score for the same body, that every chart rendered (the
// books' risk charts too, each for the asset the book is most exposed
// to), and that the page logged no error and broke no
// Content-Security-Policy rule.
// Screenshots go to build/browser/.
//
// usage: node page.mjs BIN [CHROMIUM]
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { launchChromium } from './launch.mjs';

const bin = resolve(process.argv[2] || 'build/cascaded');
const exe = process.argv[3] || '/usr/bin/chromium';
const root = resolve(new URL('../..', import.meta.url).pathname);
const shots = join(root, 'build', 'browser');
mkdirSync(shots, { recursive: true });

let passed = 0;
let failed = 0;
function check(ok, what, detail) {
  if (ok) {
    passed++;
    console.log('ok   ' + what);
  } else {
    failed++;
    console.log('FAIL ' + what + (detail !== undefined ? ': ' + detail : ''));
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'cascaded-browser-'));
const db = join(tmp, 'db');
execFileSync(bin, ['migrate', '--db', db], { stdio: 'ignore' });
execFileSync(bin, ['seed', '--db', db], { stdio: 'ignore' });
const srv = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--db', db], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
const port = await new Promise((res, rej) => {
  const t = setTimeout(() => rej(new Error('the server did not start: ' + log)), 10000);
  srv.stderr.on('data', (d) => {
    log += d;
    const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(log);
    if (m) {
      clearTimeout(t);
      res(Number(m[1]));
    }
  });
});
const base = 'http://127.0.0.1:' + port;

const { ctx, close } = await launchChromium(exe, 'cascaded-chromium-');
let code = 1;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.type() + ': ' + m.text()); });
  page.on('pageerror', (e) => errors.push('pageerror: ' + e.message));
  page.on('requestfailed', (r) => errors.push('requestfailed: ' + r.url()));
  // runs before the page's own code; init scripts are not subject to CSP
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
    });
  });
  const resp = await page.goto(base + '/', { waitUntil: 'load' });
  const csp = resp.headers()['content-security-policy'] || '';
  check(csp.includes("default-src 'none'") && csp.includes("script-src 'self'"), 'CSP header on /', csp);

  // the market list and its charts
  await page.waitForSelector('#market-list tbody tr');
  const listed = await page.$$eval('#market-list tbody tr', (rows) => rows.length);
  const api = await (await fetch(base + '/v1/markets')).json();
  check(listed === api.markets.length, 'every market listed', listed + ' vs ' + api.markets.length);

  // build a loan (Aave v3) and a perp (Hyperliquid preset) with the form
  // [control, value]: a select is chosen, an input filled, in this order
  const forms = [
    [['#b-type', 'loan'], ['#b-preset', 'aave-v3'], ['#b-id', 'alice-1'], ['#b-coll', 'ETH'],
      ['#b-coll-amt', '10'], ['#b-lt', '0.83'], ['#b-debt', 'USDC'], ['#b-debt-amt', '15000']],
    [['#b-type', 'perp'], ['#b-preset', 'hyperliquid'], ['#b-id', 'bob-1'], ['#b-asset', 'BTC'],
      ['#b-size', '0.5'], ['#b-lev', '10']],
  ];
  for (const form of forms) {
    for (const [sel, v] of form) {
      const tag = await page.$eval(sel, (e) => e.tagName);
      if (tag === 'SELECT') await page.selectOption(sel, v);
      else await page.fill(sel, v);
    }
    await page.click('#b-add');
  }
  check(await page.inputValue('#b-mmr') === '0.0125', 'the Hyperliquid preset sets the mmr');
  await page.fill('#horizon', '7');

  // keyboard: from the horizon, Tab to the Score button and press Enter
  await page.focus('#horizon');
  let tabs = 0;
  while (tabs < 10 && await page.evaluate(() => document.activeElement && document.activeElement.id) !== 'submit') {
    await page.keyboard.press('Tab');
    tabs++;
  }
  check(await page.evaluate(() => document.activeElement.id) === 'submit', 'Tab reaches the Score button', tabs + ' tabs');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /^Scored/.test(document.getElementById('status').textContent), null, { timeout: 30000 });

  // the numbers shown are POST /v1/score's for the same body
  const body = JSON.parse(await page.inputValue('#portfolio'));
  check(body.positions.length === 2 && body.horizon_days === 7, 'the portfolio built', JSON.stringify(body));
  const ans = await (await fetch(base + '/v1/score', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  })).json();
  const shown = await page.$$eval('#positions tbody tr', (rows) => rows.map((r) => ({
    id: r.dataset.position, k: Number(r.dataset.k),
    price: r.querySelector('.static-price').dataset.value,
    eff: r.querySelector('.effective-price').dataset.value,
    p: r.querySelector('.p-liq').dataset.value,
    ps: r.querySelector('.p-liq-static').dataset.value,
    slip: r.querySelector('.slippage').dataset.value,
  })));
  const s = (v) => (v === null || v === undefined ? 'null' : String(v));
  for (const p of ans.positions) {
    const row = shown.find((r) => r.id === p.id && r.k === 0);
    const lp = p.liquidation_prices[0] || {};
    check(row !== undefined, 'position ' + p.id + ' shown');
    if (!row) continue;
    const want = { price: lp.price, eff: lp.effective_price, p: p.p_liquidation,
      ps: p.p_liquidation_static, slip: p.expected_slippage_bps };
    for (const [k, v] of Object.entries(want)) check(row[k] === s(v), p.id + ' ' + k + ' as answered', row[k] + ' vs ' + s(v));
  }
  const pany = await page.getAttribute('#p-any', 'data-value');
  check(pany === s(ans.portfolio.p_any_liquidation), 'portfolio p_any_liquidation', pany);
  const codes = await page.$$eval('#warnings li[data-code]', (li) => li.map((x) => x.dataset.code));
  check(JSON.stringify(codes) === JSON.stringify((ans.warnings || []).map((w) => w.code)), 'warnings shown', codes.join(','));

  // every chart rendered: the position pictures (blob URLs) and the market's
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('#pictures img, #market-charts img')];
    return imgs.length >= 4 && imgs.every((i) => i.complete);
  }, null, { timeout: 30000 });
  const imgs = await page.$$eval('#pictures img, #market-charts img', (l) => l.map((i) => ({ src: i.src.slice(0, 40), w: i.naturalWidth })));
  check(imgs.filter((i) => i.src.startsWith('blob:')).length === 2, 'two position pictures (blob URLs)', JSON.stringify(imgs));
  for (const i of imgs) check(i.w > 0, 'chart rendered ' + i.src, i.w);

  // the books: each book's risk chart, for the volatile asset it is most
  // exposed to in USD (worked out here from the API, independently)
  const blist = (await (await fetch(base + '/v1/books')).json()).books.slice(0, 10);
  const want = [];
  for (const b of blist) {
    const d = await (await fetch(base + '/v1/books/' + b.book)).json();
    let best = null;
    for (const a of d.assets) {
      const m = api.markets.find((x) => x.asset === a.asset);
      if (!m || !(m.volatility > 0)) continue;
      for (const [dir, units] of [['down', a.collateral + a.perp_long], ['up', a.debt + a.perp_short]]) {
        if (units * m.price > 0 && (!best || units * m.price > best.v)) best = { book: b.book, asset: a.asset, dir, v: units * m.price };
      }
    }
    if (best) want.push(best);
  }
  check(want.length > 0, 'the seed has a book to chart', JSON.stringify(blist));
  await page.waitForFunction((n) => {
    const imgs = [...document.querySelectorAll('#book-charts img')];
    return imgs.length === n && imgs.every((i) => i.complete);
  }, want.length, { timeout: 60000 });
  const bimgs = await page.$$eval('#book-charts img', (l) => l.map((i) => ({ book: i.dataset.book, src: i.getAttribute('src'), w: i.naturalWidth })));
  for (const w of want) {
    const img = bimgs.find((i) => i.book === w.book);
    check(img && img.src.startsWith('/v1/books/' + w.book + '/risk.svg?asset=' + w.asset + '&direction=' + w.dir + '&'),
      'book ' + w.book + ' charted for ' + w.asset + ' ' + w.dir, img && img.src);
    check(img && img.w === 800, 'book ' + w.book + ' chart rendered', img && img.w);
    if (!img) continue;
    const r = await fetch(base + img.src);
    const t = await r.text();
    check(r.status === 200 && (r.headers.get('content-type') || '').startsWith('image/svg+xml') &&
      t.includes('<title>Book ' + w.book + ' under a shock of ' + w.asset + ' (' + w.dir + ')</title>'),
    'book ' + w.book + ' chart is its risk.svg', r.status);
  }
  const bfig = await page.$('#book-charts figure');
  if (bfig) await bfig.screenshot({ path: join(shots, 'book.png') });

  // simulate the first book from its row: the figures shown are the API's
  // for the same body (the same seed, hence the same numbers)
  const sb = want[0].book;
  await page.fill('#sim-paths', '300');
  await page.fill('#sim-horizon', '2');
  await page.click('#book-list button[data-book="' + sb + '"]');
  await page.waitForSelector('#sim-result tbody tr[data-book="' + sb + '"]', { timeout: 120000 });
  const simShown = await page.$$eval('#sim-result tbody tr:first-child td', (l) => l.map((t) => t.dataset.value));
  const sr = await fetch(base + '/v1/books/' + sb + '/simulate', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"paths": 300, "horizon_days": 2}',
  });
  const sj = await sr.json();
  const v99 = (f) => f.var.find((x) => x.q === 0.99).value;
  const simWant = [sj.paths, sj.horizon_days, sj.p_any_liquidation, sj.liquidated_value.expected,
    v99(sj.liquidated_value), sj.bad_debt.expected, v99(sj.bad_debt), sj.liquidated_positions.expected].map(String);
  check(sr.status === 200 && sj.paths === 300, 'simulate answers 200 for 300 paths', sr.status);
  check(JSON.stringify(simShown.slice(0, 8)) === JSON.stringify(simWant),
    'simulated figures shown equal the API answer', JSON.stringify(simShown) + ' vs ' + JSON.stringify(simWant));
  const simsec = await page.$('#sim-result');
  if (simsec) await simsec.screenshot({ path: join(shots, 'simulate.png') });

  await page.screenshot({ path: join(shots, 'page.png'), fullPage: true });
  const fig = await page.$('#pictures figure');
  if (fig) await fig.screenshot({ path: join(shots, 'position.png') });

  const nerrors = errors.length;
  // a bad portfolio: the problem is shown, not a broken picture
  await page.fill('#portfolio', '{"positions": [{"id": "x", "type": "loan"}]}');
  await page.click('#submit');
  await page.waitForFunction(() => document.getElementById('status').className === 'error');
  check(/422/.test(await page.textContent('#status')), 'a 422 is shown with its pointers');
  // a bad simulate option: the problem with its pointer, no row added
  const nrows = await page.$$eval('#sim-result tbody tr', (l) => l.length);
  await page.fill('#sim-paths', '0');
  await page.click('#book-list button[data-book="' + sb + '"]');
  await page.waitForFunction(() => document.getElementById('sim-status').className === 'error', null, { timeout: 30000 });
  check(/422[\s\S]*\/paths/.test(await page.textContent('#sim-status')), 'a bad paths is a 422 at /paths, shown',
    await page.textContent('#sim-status'));
  check(await page.$$eval('#sim-result tbody tr', (l) => l.length) === nrows, 'no row for the refused run');

  const csps = await page.evaluate(() => window.__csp);
  check(csps.length === 0, 'no CSP violation', csps.join('; '));
  check(nerrors === 0, 'no console error', errors.join('; '));
  // the refused request is the browser's one network message after that
  check(errors.slice(nerrors).every((e) => / 422 /.test(e)), 'nothing else logged', errors.slice(nerrors).join('; '));
  code = failed === 0 ? 0 : 1;
} catch (e) {
  console.log('FAIL ' + (e && e.stack ? e.stack : e));
  failed++;
} finally {
  await close();
  srv.kill('SIGTERM');
  rmSync(tmp, { recursive: true, force: true });
}
console.log(passed + ' passed, ' + failed + ' failed');
process.exit(failed === 0 ? code : 1);
