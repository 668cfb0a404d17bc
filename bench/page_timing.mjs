// page_timing.mjs - the page's first score, end to end in a real browser
// (bench/page.py runs it for `make bench`): Debian's chromium driven by
// playwright-core, launched as tests/browser-test.sh does it
// (tests/browser/launch.mjs: the package of tests/browser, installed
// there by `npm ci`; no browser download).
//
// Each repetition opens / afresh, waits until the page is idle (market
// list, market and book charts loaded: no request for 500 ms), adds the
// builder's default position (a loan: 10 ETH against 15000 USDC) with its
// button, then, inside the page, takes performance.now(), clicks Score
// and waits for the positions table to fill (a MutationObserver): `dom`
// is the time to that DOM update, `painted` the time to the next frame
// after it (requestAnimationFrame, then a task).  The numbers shown are
// checked against a POST /v1/score of the body the page sent, once.
// One repetition first as a warm-up (not counted).
//
// usage: node page_timing.mjs BASE_URL CHROMIUM REPS
// stdout: one JSON object {"reps", "dom_ms": [...], "painted_ms": [...],
// "browser"}; a failure: exit 1 with the reason on stderr.
import { launchChromium } from '../tests/browser/launch.mjs';

const base = process.argv[2];
const exe = process.argv[3] || '/usr/bin/chromium';
const reps = Number(process.argv[4] || 20);

const { ctx, close } = await launchChromium(exe, 'cascaded-bench-chromium-');
const out = { reps, dom_ms: [], painted_ms: [], browser: ctx.browser() ? ctx.browser().version() : '' };
let code = 0;
try {
  const page = ctx.pages()[0] || await ctx.newPage();
  for (let i = 0; i <= reps; i++) {
    await page.goto(base + '/', { waitUntil: 'networkidle' });
    await page.waitForSelector('#b-coll option[value="ETH"]', { state: 'attached' });
    await page.click('#b-add');
    const t = await page.evaluate(() => new Promise((res, rej) => {
      const tb = document.querySelector('#positions tbody');
      let t0 = 0;
      const obs = new MutationObserver(() => {
        if (!tb.querySelector('tr')) return;
        obs.disconnect();
        const dom = performance.now() - t0;
        requestAnimationFrame(() => setTimeout(() => res({ dom, painted: performance.now() - t0 })));
      });
      obs.observe(tb, { childList: true });
      setTimeout(() => { obs.disconnect(); rej(new Error('no numbers within 10 s')); }, 10000);
      t0 = performance.now();
      document.getElementById('submit').click();
    }));
    if (i === 0) {
      // once: the numbers shown are the API's for the body sent
      const body = JSON.parse(await page.inputValue('#portfolio'));
      const ans = await (await fetch(base + '/v1/score', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      })).json();
      const shown = await page.getAttribute('#positions tbody tr .p-liq', 'data-value');
      if (body.positions.length !== 1 || shown !== String(ans.positions[0].p_liquidation))
        throw new Error('the page shows ' + shown + ', the API answers ' + ans.positions[0].p_liquidation);
      continue; // the warm-up
    }
    out.dom_ms.push(t.dom);
    out.painted_ms.push(t.painted);
  }
  console.log(JSON.stringify(out));
} catch (e) {
  console.error('page_timing: ' + (e && e.message ? e.message : e));
  code = 1;
} finally {
  await close();
}
process.exit(code);
