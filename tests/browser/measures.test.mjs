// Measures: a counselor enters a PHQ-9 with item 9 endorsed and sees the flag on the chart header
// and the task on the dashboard; a wrong answer set is refused with the item named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('counselor records a PHQ-9 with item 9 = 1 and sees the flag and the task', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.base, 'counselor');
    const caseload = page.locator('section', { has: page.getByRole('heading', { name: /My caseload/ }) });
    // A patient with no open flag yet, so the new flag is the one this test raises.
    const row = caseload.locator('tbody tr').filter({ hasNot: page.locator('.badge.flag') }).first();
    const link = row.getByRole('link').first();
    const name = (await link.innerText()).trim();
    await link.click();
    await page.getByRole('link', { name: 'Measures' }).click();
    assert.match(await page.locator('main').innerText(), /Measures given/);

    await page.getByLabel('Record a measure').selectOption('phq9');
    await page.getByRole('button', { name: 'Open the form' }).click();
    await page.getByRole('heading', { level: 1, name: 'Patient Health Questionnaire-9' }).waitFor();
    const answers = [2, 1, 1, 2, 1, 0, 1, 0, 1];
    // First leave item 4 out: the form is refused and names it (the browser's own check is
    // bypassed so the server's message is what the counselor sees).
    await page.locator('form.card').evaluate((f) => f.setAttribute('novalidate', ''));
    for (const [i, v] of answers.entries()) {
      if (i !== 3) await page.locator(`input[name="item_${i}"][value="${v}"]`).check();
    }
    await page.getByRole('button', { name: 'Score and save' }).click();
    assert.match(await page.locator('.error-summary').innerText(), /item 4/);
    await page.locator('input[name="item_3"][value="2"]').check();
    await page.getByRole('button', { name: 'Score and save' }).click();

    const header = await page.locator('.chart-header').innerText();
    assert.match(header, /PHQ-9 item 9 endorsed/);
    assert.match(await page.locator('main').innerText(), /safety: high/);
    await page.screenshot({ path: `${ARTIFACTS}measures-flag.png`, fullPage: true });

    await page.getByRole('link', { name: 'Dashboard' }).first().click();
    const tasks = page.locator('section', { has: page.getByRole('heading', { name: /My tasks/ }) });
    const task = tasks.locator('tr', { hasText: name });
    assert.match(await task.first().innerText(), /Respond to flag: PHQ-9 item 9 endorsed/);
    await page.screenshot({ path: `${ARTIFACTS}measures-task.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});
