// The HTML compliance report in a real browser (Debian's Chromium via
// playwright-core): it opens from a file, draws its charts, makes no
// request anywhere and logs no error; a screenshot is kept as an artifact
// (not compared pixel by pixel).
// Usage: REPORT=/path/report.html SHOT=/path/report.png node report.mjs
import { chromium } from 'playwright-core';

let failed = 0;
const check = (name, ok, detail) => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}`, ok ? '' : (detail ?? ''));
  if (!ok) failed++;
};
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors = [];
  const requests = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url()); });
  await page.goto(`file://${process.env.REPORT}`);
  const title = await page.textContent('h1');
  check('the report opens', title.includes('HIPAA'), title);
  const charts = await page.locator('.chart svg').count();
  check('its charts are drawn as inline SVG', charts >= 4, String(charts));
  const rows = await page.locator('table tbody tr').count();
  check('the summary table has a row per safeguard', rows === 20, String(rows));
  check('no request leaves the file', requests.length === 0, requests.join(', '));
  check('no error on the page', errors.length === 0, errors.join(' | '));
  await page.screenshot({ path: process.env.SHOT, fullPage: true });
} catch (e) {
  check('no exception', false, e.stack);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
