// Dashboards: the clinical director opens the program view and reaches a late note in one
// click; every role's dashboard, the tasks page and a chart's schedule tab fit 1366, 820 and
// 390 px wide without horizontal overflow (screenshots kept as artefacts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('director reaches a late note from the program view in one click', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 1366, height: 900 } });
    await signIn(page, t.base, 'director');
    const program = page.locator('section', { has: page.getByRole('heading', { name: 'Program today' }) });
    assert.match(await program.innerText(), /in care/);
    assert.match(await program.innerText(), /Per counselor/);
    const late = page.locator('section', { has: page.getByRole('heading', { name: /^Notes late/ }) });
    const first = late.getByRole('link').first();
    const href = await first.getAttribute('href');
    assert.match(href, /^\/patients\/\d+\/notes#note\d+$/);
    await first.click();
    await page.waitForURL(`${t.base}${href}`);
    const noteId = href.split('#')[1];
    assert.equal(await page.locator(`#${noteId}`).count(), 1, 'the link lands on the note itself');
    await page.screenshot({ path: `${ARTIFACTS}dashboards-late-note.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});

test('overdue follow-up calls are marked overdue for the peer specialist and the director', async () => {
  const t = await startTrellis();
  try {
    // The demo leaves some discharged patients' calls open past their due day.
    const peer = await t.browser.newPage({ viewport: { width: 1366, height: 900 } });
    await signIn(peer, t.base, 'peer');
    const card = peer.locator('section', { has: peer.getByRole('heading', { name: /^Outreach and follow-up calls due/ }) });
    const lines = card.locator('li', { hasText: 'Follow-up call after discharge' });
    const n = await lines.count();
    assert.ok(n >= 1, 'follow-up calls on the peer specialist\'s dashboard');
    // The demo clinic's today, in its time zone.
    const today = new Date(`${new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York' }).format(new Date())}T00:00:00Z`);
    let overdue = 0;
    for (let i = 0; i < n; i++) {
      const text = await lines.nth(i).innerText();
      const due = new Date(`${text.match(/due (\w{3} \d{1,2}, \d{4})/)[1]} UTC`);
      const marked = (await lines.nth(i).locator('.badge.overdue').count()) === 1;
      assert.equal(marked, due < today, `${text}: overdue badge ${marked}, due ${due.toISOString()}`);
      if (marked) overdue++;
    }
    assert.ok(overdue >= 1, 'an overdue call is marked overdue');
    await peer.screenshot({ path: `${ARTIFACTS}dashboards-peer-follow-ups.png`, fullPage: true });

    const director = await t.browser.newPage({ viewport: { width: 1366, height: 900 } });
    await signIn(director, t.base, 'director');
    const program = director.locator('section', { has: director.getByRole('heading', { name: 'Program today' }) });
    const line = program.locator('li', { hasText: 'follow-up calls' });
    assert.match(await line.innerText(), /^[1-9]\d* follow-up calls overdue$/);
    assert.equal(await line.locator('.badge.overdue').count(), 1);
  } finally {
    await t.stop();
  }
});

const ROLES = ['director', 'counselor', 'frontdesk', 'nurse', 'prescriber', 'intake', 'peer', 'billing', 'admin', 'privacy'];
const WIDTHS = [1366, 820, 390];

test('dashboards, tasks and the schedule tab fit every width', async () => {
  const t = await startTrellis();
  try {
    for (const role of ROLES) {
      const context = await t.browser.newContext({ viewport: { width: 1366, height: 900 } });
      const page = await context.newPage();
      await signIn(page, t.base, role);
      const pages = ['/dashboard', '/tasks'];
      if (role === 'counselor') {
        const patient = await page.locator('section[aria-labelledby="caseload"] tbody tr a[href^="/patients/"]').first().getAttribute('href');
        pages.push(`${patient}/schedule`);
      }
      for (const path of pages) {
        for (const width of WIDTHS) {
          await page.setViewportSize({ width, height: 900 });
          await page.goto(`${t.base}${path}`);
          const { scrollWidth, innerWidth } = await page.evaluate(() => ({
            scrollWidth: document.documentElement.scrollWidth,
            innerWidth: window.innerWidth,
          }));
          assert.ok(scrollWidth <= innerWidth, `${role} ${path} at ${width}px: ${scrollWidth} > ${innerWidth}`);
          // No card overlaps the next one.
          const overlaps = await page.evaluate(() => {
            const cards = [...document.querySelectorAll('main .card')].map((c) => c.getBoundingClientRect());
            let n = 0;
            for (let i = 0; i < cards.length; i++) {
              for (let j = i + 1; j < cards.length; j++) {
                const a = cards[i];
                const b = cards[j];
                if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) n++;
              }
            }
            return n;
          });
          assert.equal(overlaps, 0, `${role} ${path} at ${width}px: overlapping cards`);
          const name = path.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '');
          await page.screenshot({ path: `${ARTIFACTS}layout-${role}-${name}-${width}.png`, fullPage: true });
        }
      }
      await context.close();
    }
  } finally {
    await t.stop();
  }
});
