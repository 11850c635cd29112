// The front door, as a visitor: no sign-in. They find an evening program near a ZIP code,
// open its page, take the self-screen and, answering the danger question, see crisis help
// first. Every public page on the way (the finder with results and with a refused ZIP, the
// program's page, the self-screen with and without missing answers, its answer with and
// without danger) fits 1366, 820 and 390 px, keeps to the CSP and passes axe-core WCAG 2.1 A/AA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startTrellis, ARTIFACTS } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const WIDTHS = [1366, 820, 390];
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

async function inspect(page, base, name, problems) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
    }));
    if (scrollWidth > innerWidth) problems.push(`${name} at ${width}px: overflows (${scrollWidth} > ${innerWidth})`);
    await page.screenshot({ path: `${ARTIFACTS}front-door-${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: WIDTHS[0], height: 900 });
  const text = await page.locator('main').innerText();
  const days = text.match(/\b\d{4}-\d{2}-\d{2}\b/g) ?? [];
  if (days.length) problems.push(`${name}: dates shown as stored: ${days.join(', ')}`);
  await page.addScriptTag({ url: `${base}/__test/axe.js` });
  const violations = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } })
      .then((r) => r.violations.map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`)),
    WCAG,
  );
  for (const v of violations) problems.push(`${name}: axe ${v}`);
}

// Answers every self-screen question: `yes` names the plain questions answered "Yes".
async function answerScreen(page, yes) {
  const plain = ['daily_life', 'severe_withdrawal', 'thoughts_of_suicide', 'unsafe_now', 'safe_home', 'support'];
  for (const name of plain) await page.locator(`input[name="${name}"][value="${yes.includes(name) ? 1 : 0}"]`).check();
  for (const [n, v] of [[1, 3], [2, 2], [3, 1]]) await page.locator(`input[name="audit_c_${n}"][value="${v}"]`).check();
  for (let n = 1; n <= 10; n++) await page.locator(`input[name="dast_10_${n}"][value="${n === 3 ? 1 : 0}"]`).check();
}

test('a visitor finds an evening program near a ZIP code and takes the self-screen', { timeout: 300_000 }, async () => {
  const t = await startTrellis();
  const problems = [];
  try {
    const context = await t.browser.newContext({ viewport: { width: WIDTHS[0], height: 900 } });
    await context.route(`${t.base}/__test/axe.js`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/javascript', body: AXE }));
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) problems.push(`${page.url()}: ${msg.text()}`);
    });

    await page.goto(`${t.base}/find-a-program`);
    await inspect(page, t.base, 'finder', problems);
    // A mistyped ZIP code is refused with the reason, linked to the field.
    await page.getByLabel(/Your ZIP code/).fill('1910');
    await page.getByRole('button', { name: 'Find programs' }).click();
    assert.match(await page.getByRole('alert').innerText(), /five-digit ZIP code/);
    await inspect(page, t.base, 'finder-refused', problems);

    await page.getByLabel(/Your ZIP code/).fill('19107');
    await page.getByLabel('Within').selectOption('10');
    await page.getByLabel('When you can come').selectOption({ label: 'Weekday evenings (from 5 pm)' });
    await page.getByRole('button', { name: 'Find programs' }).click();
    const results = page.locator('ul.results > li');
    assert.equal(await results.count(), 1, 'one evening program within 10 miles');
    assert.match(await results.first().innerText(), /Adult SUD IOP[\s\S]*Downtown Recovery Center · (under 1 mile|\d+ miles) away/);
    await inspect(page, t.base, 'finder-evening', problems);

    await results.first().getByRole('link', { name: 'Adult SUD IOP' }).click();
    const program = await page.locator('main').innerText();
    assert.match(program, /Evening[^\n]*Mon, Tue, Wed, Thu · 6:00 pm – 9:00 pm/);
    assert.match(program, /CARF no\. 296481, valid until [A-Z][a-z]{2} \d{1,2}, \d{4}/);
    assert.ok(await page.getByRole('link', { name: /Open in a map/ }).getAttribute('href'));
    await inspect(page, t.base, 'program', problems);

    await page.getByRole('link', { name: 'Is an IOP right for me?' }).click();
    await inspect(page, t.base, 'self-screen', problems);
    // Sending it half answered brings it back with each missing answer marked.
    await page.locator('input[name="daily_life"][value="1"]').check();
    await page.getByRole('button', { name: 'See what may fit' }).click();
    assert.match(await page.getByRole('alert').innerText(), /Please answer every question/);
    assert.equal(await page.locator('input[name="daily_life"][value="1"]').isChecked(), true);
    await inspect(page, t.base, 'self-screen-missing', problems);

    await answerScreen(page, ['daily_life', 'safe_home', 'support']);
    await page.getByRole('button', { name: 'See what may fit' }).click();
    assert.match(await page.locator('main').innerText(), /An intensive outpatient program may be a good fit/);
    await inspect(page, t.base, 'self-screen-answer', problems);

    // The danger answer: crisis help comes first, before anything else on the page.
    await page.goto(`${t.base}/is-iop-right-for-me`);
    await answerScreen(page, ['thoughts_of_suicide', 'safe_home', 'support']);
    await page.getByRole('button', { name: 'See what may fit' }).click();
    const first = page.locator('main > *').first();
    assert.match(await first.innerText(), /Please reach out for help now[\s\S]*988[\s\S]*911/);
    assert.equal(await first.getAttribute('role'), 'alert');
    await inspect(page, t.base, 'self-screen-danger', problems);
    await context.close();
    assert.deepEqual(problems, [], problems.join('\n'));
  } finally {
    await t.stop();
  }
});
