// Every staff page, as a role that may open it, at 1366, 820 and 390 px: no horizontal
// overflow, no card overlapping another, the main menu on one row, no script or style the CSP
// refuses, and axe-core finds no WCAG 2.1 A/AA violation. Screenshots are kept as artefacts.
//
// The pages are the GET routes of crates/web/src/pages/mod.rs; ids come from the demo clinic,
// found by following links the way staff would. One signed-in context per role.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const WIDTHS = [1366, 820, 390];
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// The axe script is served from our own origin by the test (a route Playwright answers), so
// the page's CSP (script-src 'self') stays in force and any violation of it is still caught.
async function roleContext(t, role) {
  const context = await t.browser.newContext({ viewport: { width: WIDTHS[0], height: 900 } });
  await context.route(`${t.base}/__test/axe.js`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript', body: AXE }),
  );
  const page = await context.newPage();
  const refused = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) refused.push(`${page.url()}: ${msg.text()}`);
  });
  await signIn(page, t.base, role);
  return { context, page, refused };
}

// The first link on `path` whose href matches `pattern`, or null.
async function firstLink(page, base, path, pattern) {
  await page.goto(`${base}${path}`);
  const hrefs = await page.locator('main a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  return hrefs.find((h) => pattern.test(h)) ?? null;
}

// The first of `paths` holding a link that matches `pattern`.
async function findLink(page, base, paths, pattern) {
  for (const path of paths) {
    const found = await firstLink(page, base, path, pattern);
    if (found) return found;
  }
  return null;
}

async function check(page, base, role, path, problems) {
  const response = await page.goto(`${base}${path}`);
  const status = response ? response.status() : 0;
  if (status >= 400 && !path.startsWith('/no-such') && !path.includes('/abc')) {
    problems.push(`${role} ${path}: answered ${status}`);
  }
  const name = `${role}-${path.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}`.slice(0, 120);
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    const layout = await page.evaluate(() => {
      const cards = [...document.querySelectorAll('main .card')];
      let overlaps = 0;
      for (let i = 0; i < cards.length; i++) {
        for (let j = i + 1; j < cards.length; j++) {
          if (cards[i].contains(cards[j]) || cards[j].contains(cards[i])) continue;
          const a = cards[i].getBoundingClientRect();
          const b = cards[j].getBoundingClientRect();
          if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps++;
        }
      }
      const menu = [...document.querySelectorAll('header.top nav a')].map((a) => a.offsetTop);
      return {
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        overlaps,
        menuRows: new Set(menu).size,
      };
    });
    if (width === WIDTHS[0]) {
      // Codes are for machines: staff read labels ("Absent (unexcused)", not "absent_unexcused").
      const codes = (await page.locator('main').innerText()).match(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/g) ?? [];
      if (codes.length) problems.push(`${role} ${path}: raw codes shown: ${[...new Set(codes)].slice(0, 5).join(', ')}`);
    }
    if (layout.scrollWidth > layout.innerWidth) {
      problems.push(`${role} ${path} at ${width}px: overflows (${layout.scrollWidth} > ${layout.innerWidth})`);
    }
    if (layout.overlaps > 0) problems.push(`${role} ${path} at ${width}px: ${layout.overlaps} overlapping cards`);
    if (layout.menuRows > 1) problems.push(`${role} ${path} at ${width}px: the main menu wraps onto ${layout.menuRows} rows`);
    await page.screenshot({ path: `${ARTIFACTS}every-page-${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: WIDTHS[0], height: 900 });
  await page.addScriptTag({ url: `${base}/__test/axe.js` });
  const { violations, passed } = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }).then((r) => ({
      violations: r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`),
      passed: r.passes.length,
    })),
    WCAG,
  );
  if (passed === 0) problems.push(`${role} ${path}: axe checked nothing`);
  for (const v of violations) problems.push(`${role} ${path}: axe ${v}`);
}

test('every staff page fits 1366, 820 and 390 px and passes axe-core WCAG 2.1 A/AA', { timeout: 900_000 }, async () => {
  const t = await startTrellis();
  const problems = [];
  const visited = [];
  try {
    // The clinical director: the patient list, every chart tab and the clinical lists.
    const director = await roleContext(t, 'director');
    const d = director.page;
    const patient = await firstLink(d, t.base, '/patients', /^\/patients\/\d+$/);
    assert.ok(patient, 'a patient on the list');
    const episode = (await firstLink(d, t.base, `${patient}/episodes`, /^\/episodes\/\d+\//))?.match(/^\/episodes\/\d+/)?.[0];
    const version = await firstLink(d, t.base, `${patient}/treatment-plan`, /^\/patients\/\d+\/treatment-plan\/\d+$/);
    const program = (await firstLink(d, t.base, '/admin/programs', /^\/programs\/\d+\/phases$/)) ?? '/programs/1/phases';
    const groupNote = await firstLink(d, t.base, '/group-notes', /^\/group-notes\/\d+$/);
    const session = (await findLink(d, t.base, ['/schedule/day-sheet', '/schedule/my-day'], /^\/schedule\/sessions\/\d+\//))?.match(/^\/schedule\/sessions\/\d+/)?.[0];
    const directorPages = [
      '/dashboard', '/patients', '/patients/new', patient, `${patient}/edit`, `${patient}/episodes`,
      `${patient}/episodes/new`, `${patient}/measures`, `${patient}/measures/new?instrument=phq9`, `${patient}/medications`,
      `${patient}/phase`, `${patient}/schedule`, `${patient}/consents`, `${patient}/disclosures`, `${patient}/notes`, `${patient}/counseling-notes`,
      `${patient}/treatment-plan`, `${patient}/assessment`,
      '/caseload/step-down-review', '/reports/follow-up-outcomes', '/schedule/my-day', '/schedule/day-sheet',
      '/schedule/week', '/schedule/hours', '/schedule/tracks', '/emergency-access', '/group-notes', '/tasks',
      '/admin/plan-reviews', '/admin/programs', program, '/account/mfa', '/account/password',
      '/no-such-page', '/patients/abc',
    ];
    if (episode) directorPages.push(`${episode}/level`, `${episode}/discharge`, `${episode}/discharge-summary`);
    // A discharged episode's summary and its print page, found from a discharged patient's episodes.
    await d.goto(`${t.base}/patients`);
    const discharged = await d.locator('main tbody tr', { hasText: 'Discharged' }).locator('a[href^="/patients/"]')
      .evaluateAll((as) => as.map((a) => a.getAttribute('href')).filter((h) => /^\/patients\/\d+$/.test(h)));
    const summaries = [];
    for (const h of discharged.slice(0, 6)) {
      const found = await firstLink(d, t.base, `${h}/episodes`, /^\/episodes\/\d+\/discharge-summary$/);
      if (found) summaries.push(found);
    }
    // The summary page links its print page once a summary is drafted.
    const summary = (await findLink(d, t.base, summaries, /^\/episodes\/\d+\/discharge-summary\/print$/))?.replace(/\/print$/, '');
    if (summary) directorPages.push(summary, `${summary}/print`);
    if (version) directorPages.push(version, `${version}/print`);
    if (groupNote) directorPages.push(groupNote);
    if (session) directorPages.push(`${session}/check-in`, `${session}/check-in?kiosk=1`, `${session}/group-note`);
    for (const path of directorPages) {
      await check(d, t.base, 'director', path, problems);
      visited.push(path);
    }
    // Consents and disclosures: the privacy officer's pages.
    const privacy = await roleContext(t, 'privacy');
    const p = privacy.page;
    await p.goto(`${t.base}/patients`);
    const hrefs = (await p.locator('main a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')))).filter((h) => /^\/patients\/\d+$/.test(h));
    const consent = await findLink(p, t.base, hrefs.slice(0, 12).map((h) => `${h}/consents`), /^\/patients\/\d+\/consents\/\d+$/);
    const packet = await findLink(p, t.base, ['/privacy', ...hrefs.slice(0, 12).map((h) => `${h}/disclosures`)], /^\/patients\/\d+\/disclosures\/\d+$/);
    const privacyPages = ['/dashboard', '/privacy', '/admin/audit', '/privacy/restrictions', '/privacy/breaches', '/privacy/breaches/log', '/privacy/authorities', ...(hrefs[0] ? [`${hrefs[0]}/privacy`, `${hrefs[0]}/authorised-disclosure`] : []), ...(consent ? [consent] : []), ...(packet ? [packet] : [])];
    for (const path of privacyPages) {
      await check(p, t.base, 'privacy', path, problems);
      visited.push(path);
    }
    // The administrator's pages.
    const admin = await roleContext(t, 'admin');
    const a = admin.page;
    const user = await firstLink(a, t.base, '/admin/users', /^\/admin\/users\/\d+$/);
    const adminPages = ['/dashboard', '/admin/users', '/admin/role-approvals', '/admin/audit', '/admin/audit?action=read', ...(user ? [user] : [])];
    for (const path of adminPages) {
      await check(a, t.base, 'admin', path, problems);
      visited.push(path);
    }
    // The counselor facilitates the evening group: its tablet check-in and group note pages.
    const counselor = await roleContext(t, 'counselor');
    const c = counselor.page;
    const own = (await firstLink(c, t.base, '/schedule/my-day', /^\/schedule\/sessions\/\d+\/group-note$/))?.match(/^\/schedule\/sessions\/\d+/)?.[0];
    const counselorPages = ['/schedule/my-day', ...(own ? [`${own}/check-in?kiosk=1`, `${own}/group-note`] : [])];
    for (const path of counselorPages) {
      await check(c, t.base, 'counselor', path, problems);
      visited.push(path);
    }
    // The other roles' first pages.
    const others = [counselor];
    for (const role of ['counselor', 'frontdesk', 'nurse', 'prescriber', 'intake', 'peer', 'billing']) {
      const r = await roleContext(t, role);
      for (const path of ['/dashboard', '/tasks']) await check(r.page, t.base, role, path, problems);
      if (role === 'frontdesk') await check(r.page, t.base, role, '/schedule/week', problems);
      others.push(r);
    }
    for (const ctx of [director, privacy, admin, ...others]) {
      problems.push(...ctx.refused);
      await ctx.context.close();
    }
    assert.ok(consent, 'a consent to print in the demo');
    assert.ok(session, 'a session on the day sheet or My day');
    if (!own) problems.push("no session of the counselor's own on My day");
    if (!summary) problems.push('no discharge summary found in the demo');
    assert.deepEqual(problems, [], `${visited.length} pages checked; problems:\n${problems.join('\n')}`);
  } finally {
    await t.stop();
  }
});

test('a bad id and an unknown page answer a friendly HTML page under the CSP; the API keeps JSON', async () => {
  const t = await startTrellis();
  try {
    const { context, page, refused } = await roleContext(t, 'director');
    const bad = await page.goto(`${t.base}/patients/abc`);
    assert.equal(bad.status(), 400);
    assert.match(bad.headers()['content-type'], /text\/html/);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'That link is not valid');
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0);
    const missing = await page.goto(`${t.base}/no-such-page`);
    assert.equal(missing.status(), 404);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Not found');
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.waitForURL(`${t.base}/dashboard`);
    const api = await page.request.get(`${t.base}/api/v1/patients/abc`);
    assert.match(api.headers()['content-type'], /application\/json/);
    assert.deepEqual(refused, []);
    await context.close();
  } finally {
    await t.stop();
  }
});

test('the header search finds a patient by name without putting the name in the address', async () => {
  const t = await startTrellis();
  try {
    const { context, page } = await roleContext(t, 'frontdesk');
    await page.goto(`${t.base}/patients`);
    const first = page.locator('main tbody tr a[href^="/patients/"]').first();
    const name = (await first.innerText()).trim();
    const last = name.split(/[ ,]+/).filter(Boolean)[0];
    await page.goto(`${t.base}/schedule/week`);
    const search = page.getByRole('search', { name: 'Patients' });
    await search.getByLabel('Find a patient').fill(last);
    await search.getByRole('button', { name: 'Find' }).click();
    await page.waitForURL(`${t.base}/patients/search`);
    assert.ok(!page.url().toLowerCase().includes(last.toLowerCase()), 'no name in the URL');
    assert.match(await page.locator('main').innerText(), /\d+ patients? found/);
    assert.ok((await page.locator('main tbody tr').count()) >= 1);
    await page.screenshot({ path: `${ARTIFACTS}header-search-result.png`, fullPage: true });
    await context.close();
  } finally {
    await t.stop();
  }
});
