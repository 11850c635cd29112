// Billing's first revenue flow: the payers the demo keeps, a new payer added, and a patient's
// Coverage tab where billing adds a plan and records an eligibility check, all without a
// clinical tab in sight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('billing adds a payer, a coverage and an eligibility check', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.base, 'billing');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Billing' }).click();
    assert.ok(await page.getByRole('row', { name: /State Medicaid/ }).isVisible());

    // A refused payer comes back with its problems linked; then it is saved.
    await page.getByText('Add a payer').click();
    const add = page.getByRole('form', { name: 'Add a payer' });
    await add.getByLabel('Payer name').fill('Lakeshore Community Plan');
    await add.getByLabel(/^Payer id/).fill('LCP22');
    await add.getByLabel('Per-diem rate in dollars').fill('two hundred');
    await add.getByRole('button', { name: 'Add payer' }).click();
    assert.match(await page.locator('.error-summary').innerText(), /Rate: must be an amount in dollars/);
    await page.getByRole('form', { name: 'Add a payer' }).getByLabel('Per-diem rate in dollars').fill('210.00');
    await page.getByRole('form', { name: 'Add a payer' }).getByRole('button', { name: 'Add payer' }).click();
    assert.match(await page.locator('#live').innerText(), /saved/);
    assert.match(await page.getByRole('row', { name: /Lakeshore Community Plan/ }).innerText(), /\$210\.00/);

    // The Coverage tab of the first patient on the list.
    await page.goto(`${t.base}/patients`);
    const charts = await page.locator('main a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')).filter((h) => /^\/patients\/\d+$/.test(h)));
    await page.goto(`${t.base}${charts[0]}`);
    await page.getByRole('link', { name: 'Coverage' }).click();
    for (const clinical of ['Notes', 'Medications', 'Assessment', 'Plan']) {
      assert.equal(await page.getByRole('navigation', { name: 'Chart sections' }).getByRole('link', { name: clinical, exact: true }).count(), 0, clinical);
    }
    await page.getByText('Add a coverage').click();
    const coverage = page.getByRole('form', { name: 'Add a coverage' });
    await coverage.getByLabel('Plan').selectOption({ label: 'Lakeshore Community Plan' });
    await coverage.getByLabel(/^Member id/).fill('LCP-771203');
    await coverage.getByLabel(/^Group number/).fill('4410');
    await coverage.getByRole('button', { name: 'Add coverage' }).click();
    assert.match(await page.locator('#live').innerText(), /Coverage saved/);
    const row = page.getByRole('row', { name: /Lakeshore Community Plan/ });
    assert.match(await row.innerText(), /LCP-771203/);
    assert.match(await row.innerText(), /Not checked/);

    const card = page.locator('section', { has: page.getByRole('heading', { name: /Lakeshore Community Plan/ }) });
    await card.getByText('Record an eligibility check').click();
    await card.getByLabel('How').selectOption({ label: 'Payer portal' });
    await card.getByLabel('Result').selectOption({ label: 'Active' });
    await card.getByLabel(/^Reference/).fill('LCP-REF-0091');
    await card.getByRole('button', { name: 'Record check' }).click();
    assert.match(await page.locator('#live').innerText(), /Eligibility check recorded/);
    assert.match(await page.getByRole('row', { name: /Lakeshore Community Plan/ }).innerText(), /Active/);
    await page.screenshot({ path: `${ARTIFACTS}coverage-tab.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});
