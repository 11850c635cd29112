// The chart overview: a counselor opens a patient from the caseload and reads the episode on
// one screen; the header and the tab bar are the same on every tab, the tabs fit one row on a
// tablet (820 px), and the overview fits 1366, 820 and 390 px (screenshots kept as artefacts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

const WIDTHS = [1366, 820, 390];

test('counselor reads the episode on one screen at every width', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 1366, height: 900 } });
    await signIn(page, t.base, 'counselor');
    const links = page.locator('section[aria-labelledby="caseload"] tbody tr a[href^="/patients/"]');
    const hrefs = await links.evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    // A patient with a signed plan: the overview then has every part filled in.
    let patient = null;
    for (const href of hrefs) {
      await page.goto(`${t.base}${href}`);
      if (await page.getByText(/^Version \d+, review due/).count()) {
        patient = href;
        break;
      }
    }
    assert.ok(patient, 'a caseload patient with a signed plan');
    const main = await page.locator('main').innerText();
    for (const heading of ['Episode', 'Diagnoses and medications', 'This week', 'Last scores', 'Flags and tasks', 'Consents in force']) {
      assert.ok(await page.getByRole('heading', { name: heading, exact: true }).count(), heading);
    }
    assert.match(main, /so far of the \d+(\.\d)? h weekly minimum/);
    assert.match(main, /still scheduled/);
    const header = await page.locator('.chart-header').innerText();
    for (const fact of [/Age/, /Status/, /Level of care/, /Primary counselor/, /Open flags/]) {
      assert.match(header, fact);
    }

    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto(`${t.base}${patient}`);
      const fit = await page.evaluate(() => {
        const nav = document.querySelector('nav.tabs');
        const tops = new Set([...nav.querySelectorAll('a')].map((a) => Math.round(a.getBoundingClientRect().top)));
        const cards = [...document.querySelectorAll('main .card')].map((c) => c.getBoundingClientRect());
        let overlaps = 0;
        for (let i = 0; i < cards.length; i++) {
          for (let j = i + 1; j < cards.length; j++) {
            const a = cards[i];
            const b = cards[j];
            if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps++;
          }
        }
        return {
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          rows: tops.size,
          navFits: nav.scrollWidth <= nav.clientWidth,
          navScroll: nav.scrollWidth,
          navClient: nav.clientWidth,
          overlaps,
          clipped: [...document.querySelectorAll('main .card')].filter((c) => c.scrollWidth > c.clientWidth + 1).length,
        };
      });
      assert.ok(fit.scrollWidth <= fit.innerWidth, `overview at ${width}px: ${fit.scrollWidth} > ${fit.innerWidth}`);
      assert.equal(fit.rows, 1, `tabs on one row at ${width}px`);
      if (width >= 820) assert.ok(fit.navFits, `every tab visible without scrolling at ${width}px: ${fit.navScroll} > ${fit.navClient}`);
      assert.equal(fit.overlaps, 0, `no overlapping cards at ${width}px`);
      assert.equal(fit.clipped, 0, `no card clips its content at ${width}px`);
      await page.screenshot({ path: `${ARTIFACTS}chart-overview-${width}.png`, fullPage: true });
    }

    // The same header on another tab, with that tab current.
    await page.setViewportSize({ width: 1366, height: 900 });
    await page.getByRole('navigation', { name: 'Chart sections' }).getByRole('link', { name: 'Plan', exact: true }).click();
    assert.match(await page.locator('.chart-header').innerText(), /Primary counselor/);
    assert.equal(await page.locator('nav.tabs a[aria-current="page"]').innerText(), 'Plan');
  } finally {
    await t.stop();
  }
});

test('front desk sees the schedule part and no clinical text', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 820, height: 900 } });
    await signIn(page, t.base, 'frontdesk');
    await page.goto(`${t.base}/patients`);
    await page.locator('main table tbody tr a[href^="/patients/"]').first().click();
    assert.ok(await page.getByRole('heading', { name: 'This week', exact: true }).count());
    for (const heading of ['Diagnoses and medications', 'Last scores', 'Flags and tasks']) {
      assert.equal(await page.getByRole('heading', { name: heading, exact: true }).count(), 0, heading);
    }
    assert.doesNotMatch(await page.locator('.chart-header').innerText(), /Level of care|Primary counselor|Open flags/);
    await page.screenshot({ path: `${ARTIFACTS}chart-overview-frontdesk-820.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});
