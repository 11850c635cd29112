// Drug screens: a counselor enters a screen with an unexpected cocaine positive and sees it
// marked unexpected with the reason, the flag on the chart header and the task on the dashboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('counselor enters a screen with an unexpected positive and sees the flag and the task', async () => {
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
    await page.getByRole('link', { name: 'Medications', exact: true }).click();
    assert.match(await page.locator('main').innerText(), /Drug screens/);

    await page.getByText('Enter a drug screen').click();
    const form = page.getByRole('form', { name: 'Enter a drug screen' });
    await form.getByLabel('Specimen').selectOption('urine');
    await form.getByLabel('Collected by').fill('Grace Okafor, RN');
    await form.getByLabel('Cocaine positive').check();
    await form.getByLabel('Fentanyl negative').check();
    await form.getByLabel('Opiates (morphine, codeine, heroin) negative').check();
    await form.getByRole('button', { name: 'Save screen' }).click();

    const header = await page.locator('.chart-header').innerText();
    assert.match(header, /Unexpected positive drug screen \(Cocaine\)/);
    const history = page.locator('section', { has: page.getByRole('heading', { name: 'Drug screens' }) });
    const latest = await history.locator('tr.screen').first().innerText();
    assert.match(latest, /Cocaine: Positive unexpected/);
    assert.match(latest, /flag raised/);
    await page.screenshot({ path: `${ARTIFACTS}screens-flag.png`, fullPage: true });

    await page.getByRole('link', { name: 'Dashboard' }).first().click();
    const tasks = page.locator('section', { has: page.getByRole('heading', { name: /My tasks/ }) });
    const task = tasks.locator('tr', { hasText: name }).filter({ hasText: 'Unexpected positive' });
    assert.match(await task.first().innerText(), /Respond to flag: Unexpected positive drug screen \(Cocaine\)/);
    await page.screenshot({ path: `${ARTIFACTS}screens-task.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});
