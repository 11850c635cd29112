// Main staff flow: sign in, find a patient, admit them to a program, change and check the chart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('intake coordinator finds a registered patient and admits them', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.base, 'intake');
    await page.getByRole('main').getByLabel(/Find a patient/).fill('Quinn');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'Fatima Quinn' }).click();
    await assert.doesNotReject(page.getByRole('heading', { level: 1, name: /Fatima Quinn/ }).waitFor());
    assert.match(await page.locator('.chart-header').innerText(), /Registered, not admitted/);

    await page.getByRole('link', { name: /Episodes/ }).click();
    await page.getByRole('link', { name: 'Admit to a program' }).click();
    await page.getByLabel('Program').selectOption({ label: 'Adult SUD IOP · Downtown Recovery Center (2.1)' });
    await page.getByLabel(/Referral source/).fill('Employer or EAP');
    await page.getByLabel('Primary counselor').selectOption({ label: 'Jordan Ellis, LCSW' });
    await page.getByLabel(/Why this level of care/).fill('ASAM: dimensions 3 and 5 rated 2; safe at home');
    await page.getByRole('button', { name: 'Admit' }).click();

    const header = await page.locator('.chart-header').innerText();
    assert.match(header, /Adult SUD IOP/);
    assert.match(header, /2\.1 Intensive outpatient/);
    assert.match(header, /Jordan Ellis/);
    assert.match(await page.locator('main').innerText(), /Employer or EAP/);
    await page.screenshot({ path: `${ARTIFACTS}admitted.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});

test('counselor sees their caseload and records a level-of-care change', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 1024, height: 768 } });
    await signIn(page, t.base, 'counselor');
    const caseload = page.locator('section', { has: page.getByRole('heading', { name: /My caseload/ }) });
    const first = caseload.getByRole('link').first();
    const name = (await first.innerText()).trim();
    await first.click();
    await page.getByRole('link', { name: /Episodes/ }).click();
    await page.getByRole('link', { name: 'Change level of care' }).first().click();
    await page.getByLabel('New level of care').selectOption('2.5');
    await page.getByLabel('Reason').fill('Relapse with missed sessions; more structure needed');
    await page.getByRole('button', { name: 'Record the change' }).click();
    const main = await page.locator('main').innerText();
    assert.match(main, /Relapse with missed sessions/);
    assert.match(await page.locator('.chart-header').innerText(), /2\.5 Partial hospitalization/);
    assert.ok(name.length > 0);
    await page.screenshot({ path: `${ARTIFACTS}level-change.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});
