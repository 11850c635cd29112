// The patient portal on a phone (390x844): a counselor invites a patient from the chart, the
// patient signs up with the code, signs in and sees their week with crisis help on every page.
// Each portal page is checked for overflow at 360 and 390 px and by axe-core (WCAG 2.1 A/AA).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startTrellis, signIn, PASSWORD, ARTIFACTS } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const PHONE = { width: 390, height: 844 };
const NEW_PASSWORD = 'blue kettle river morning';

// A context whose pages can load axe from our own origin (the CSP allows 'self' only).
async function context(t, viewport) {
  const ctx = await t.browser.newContext({ viewport });
  await ctx.route(`${t.base}/__test/axe.js`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript', body: AXE }),
  );
  const page = await ctx.newPage();
  const refused = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) refused.push(`${page.url()}: ${msg.text()}`);
  });
  return { ctx, page, refused };
}

// Overflow at phone widths, crisis help present, no ISO days, axe clean.
async function inspect(page, base, name, problems) {
  for (const width of [360, 390]) {
    await page.setViewportSize({ width, height: 844 });
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
    }));
    if (scrollWidth > innerWidth) problems.push(`${name} at ${width}px: overflows (${scrollWidth} > ${innerWidth})`);
    await page.screenshot({ path: `${ARTIFACTS}portal-${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize(PHONE);
  const text = await page.locator('main').innerText();
  if (!/988/.test(text) || !/911/.test(text)) problems.push(`${name}: no crisis help`);
  if (/\b\d{4}-\d{2}-\d{2}\b/.test(text)) problems.push(`${name}: a day shown as stored`);
  await page.addScriptTag({ url: `${base}/__test/axe.js` });
  const violations = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } })
      .then((r) => r.violations.map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`)),
    WCAG,
  );
  for (const v of violations) problems.push(`${name}: axe ${v}`);
}

test('a patient accepts an invitation on a phone, signs in and sees their week', { timeout: 300_000 }, async () => {
  const t = await startTrellis();
  const problems = [];
  try {
    // The counselor invites a patient of theirs who has no account yet.
    const staff = await context(t, { width: 1366, height: 900 });
    const c = staff.page;
    await signIn(c, t.base, 'counselor');
    await c.goto(`${t.base}/patients`);
    const charts = (await c.locator('main a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href'))))
      .filter((h) => /^\/patients\/\d+$/.test(h));
    let invited = null;
    for (const chart of charts) {
      await c.goto(`${t.base}${chart}/portal-account`);
      if (await c.getByRole('button', { name: 'Invite to the portal' }).count()) {
        invited = chart;
        break;
      }
    }
    assert.ok(invited, 'a patient of the counselor without a portal account');
    await c.getByRole('button', { name: 'Invite to the portal' }).click();
    const code = (await c.locator('#invitation-code').innerText()).trim();
    assert.match(code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);

    // The patient, on their phone.
    const phone = await context(t, PHONE);
    const p = phone.page;
    await p.goto(`${t.base}/portal`);
    await p.waitForURL(`${t.base}/portal/sign-in`);
    await inspect(p, t.base, 'sign-in', problems);
    await p.getByRole('link', { name: 'set up your account' }).click();
    await p.waitForURL(`${t.base}/portal/welcome`);
    await inspect(p, t.base, 'welcome', problems);
    // A mistyped second password first: the form says so and keeps the code.
    await p.getByLabel('Your code').fill(code);
    await p.getByLabel(/^Pick a username/).fill('river.walker');
    await p.getByLabel(/^Pick a password/).fill(NEW_PASSWORD);
    await p.getByLabel('Type the password again').fill('blue kettle river evening');
    await p.getByRole('button', { name: 'Set up my account' }).click();
    await assert.doesNotReject(p.getByRole('alert').getByText(/not the same/).waitFor());
    await inspect(p, t.base, 'welcome-refused', problems);
    await p.getByLabel(/^Pick a password/).fill(NEW_PASSWORD);
    await p.getByLabel('Type the password again').fill(NEW_PASSWORD);
    await p.getByRole('button', { name: 'Set up my account' }).click();
    await assert.doesNotReject(p.getByText('Your account is ready').waitFor());
    await p.getByLabel('Password').fill(NEW_PASSWORD);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.waitForURL(`${t.base}/portal/today`);
    await assert.doesNotReject(p.getByRole('heading', { name: 'My week' }).waitFor());
    await assert.doesNotReject(p.getByRole('heading', { name: /^Today, / }).waitFor());
    await inspect(p, t.base, 'today', problems);
    // Large targets: every button and link-button is at least 44 px tall.
    const small = await p.locator('main button, main .button').evaluateAll((els) =>
      els.filter((e) => e.getBoundingClientRect().height < 44).length);
    if (small) problems.push(`today: ${small} targets under 44 px`);

    // The counselor sees the account active.
    await c.goto(`${t.base}${invited}/portal-account`);
    await assert.doesNotReject(c.getByText('river.walker').waitFor());

    // The demo patient's account: their evening group is on their week.
    const demo = await context(t, PHONE);
    const d = demo.page;
    await d.goto(`${t.base}/portal/sign-in`);
    await d.getByLabel('Username').fill('patient');
    await d.getByLabel('Password').fill(PASSWORD);
    await d.getByRole('button', { name: 'Sign in' }).click();
    await d.waitForURL(`${t.base}/portal/today`);
    await assert.doesNotReject(d.getByText(/Group: /).first().waitFor());
    await inspect(d, t.base, 'today-demo', problems);
    await d.getByRole('button', { name: 'Sign out' }).click();
    await assert.doesNotReject(d.getByText('You are signed out.').waitFor());

    for (const ctx of [staff, phone, demo]) {
      problems.push(...ctx.refused);
      await ctx.ctx.close();
    }
    assert.deepEqual(problems, []);
  } finally {
    await t.stop();
  }
});
