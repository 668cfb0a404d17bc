// launch.mjs - Debian's chromium under playwright-core, headless, with a
// throwaway profile: shared by tests/browser/page.mjs (the browser test)
// and bench/page_timing.mjs (the page's timing).  playwright-core comes
// from tests/browser/node_modules (npm ci); it never downloads a browser.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// A persistent context on exe with a new profile under prefix; close()
// closes it and removes the profile.
export async function launchChromium(exe, prefix) {
  const profile = mkdtempSync(join(tmpdir(), prefix));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: exe,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 900 },
  });
  const close = async () => {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, close };
}
