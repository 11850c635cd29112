// One door out (42 CFR Part 2): the discharge-summary print is the program's internal copy; a
// counselor's copy for an outside provider goes through the disclosure path, refused without
// the patient's consent, and with it printed with the §2.32 notice and kept in the accounting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

const iso = (d) => d.toISOString().slice(0, 10);
const PROVIDER = 'Eastside Outpatient Clinic';
const ENTRY = `${PROVIDER} · Treating provider`;

test('a discharge summary for an outside provider goes through the consent check and into the accounting', async () => {
  const t = await startTrellis();
  try {
    const officer = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(officer, t.base, 'privacy');
    await officer.goto(`${t.base}/privacy/recipients`);
    const add = officer.locator('section', { has: officer.getByRole('heading', { name: 'Add a recipient' }) });
    await add.getByLabel(/^Name/).fill(PROVIDER);
    await add.getByLabel('Class').selectOption({ label: 'Treating provider' });
    await add.getByLabel(/How to reach them/).fill('Fax 555-201-7701');
    await add.getByRole('button', { name: 'Add recipient' }).click();
    assert.match(await officer.locator('#live').innerText(), /saved/);

    const page = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.base, 'counselor');
    const caseload = page.locator('section', { has: page.getByRole('heading', { name: /My caseload/ }) });
    const rows = await caseload.locator('tbody tr').all();
    let oldest = null;
    for (const row of rows) {
      const admitted = new Date(`${(await row.locator('td').nth(3).innerText()).trim()} UTC`);
      if (!oldest || admitted < oldest.admitted) oldest = { row, admitted };
    }
    await oldest.row.getByRole('link').first().click();
    const legal = page.locator('.chart-header dt', { hasText: 'Legal name' });
    const name = (await legal.count())
      ? (await page.locator('.chart-header dt:text("Legal name") + dd').innerText()).trim()
      : (await page.locator('.chart-header h1').innerText()).replace(/\(.*\)/, '').trim();
    await page.getByRole('link', { name: /Episodes/ }).first().click();
    await page.getByRole('link', { name: 'Discharge', exact: true }).click();
    await page.getByLabel('Discharge date').fill(iso(new Date(Date.now() - 30 * 86400000)));
    await page.getByLabel(/reason/i).selectOption('1');
    await page.getByRole('button', { name: 'Discharge' }).click();
    await page.getByRole('button', { name: 'Draft the summary from the record' }).click();
    await page.getByLabel(/Course of treatment/).fill('Attended groups and met the plan goals.');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('button', { name: 'Sign summary' }).click();

    // The print is marked internal and offers the one way out.
    await page.getByRole('link', { name: 'Printable summary' }).click();
    const main = page.getByRole('main');
    assert.match(await main.locator('#internal-copy').innerText(), /Internal copy: for use within the program only/);
    await main.getByRole('link', { name: 'Copy for someone outside the program' }).click();

    // Without the patient's consent it is refused, with the reason.
    const disclose = page.getByRole('main').locator('section', { has: page.getByRole('heading', { name: 'Disclose information' }) });
    assert.equal(await disclose.getByLabel('Discharge summary').isChecked(), true);
    await disclose.getByLabel(/^Recipient/).selectOption({ label: ENTRY });
    await disclose.getByLabel('Purpose', { exact: true }).selectOption('treatment');
    await disclose.getByRole('button', { name: 'Check consent and disclose' }).click();
    assert.match(await page.locator('#refusal').innerText(), /Disclosure refused/);

    // The patient consents to the discharge summary going to the provider for treatment.
    const record = page.getByRole('main').locator('section', { has: page.getByRole('heading', { name: 'Record a consent' }) });
    await record.getByText('Record a new consent').click();
    await record.getByLabel('Discharge summary').check();
    await record.getByLabel('Name of the person or organisation').fill(PROVIDER);
    await record.getByLabel('Treatment', { exact: true }).check();
    await record.getByLabel('On a date').check();
    await record.getByLabel('Expiry date').fill('2099-12-31');
    await record.getByLabel(/Signature: typed full name/).fill(name);
    await record.getByRole('button', { name: 'Record consent' }).click();
    assert.equal(await page.locator('[data-state="active"]').count() > 0, true);

    const again = page.getByRole('main').locator('section', { has: page.getByRole('heading', { name: 'Disclose information' }) });
    // The disclosure form opens on demand once nothing in it is pre-filled.
    await again.getByText('Start a disclosure').click();
    await again.getByLabel(/^Recipient/).selectOption({ label: ENTRY });
    await again.getByLabel('Purpose', { exact: true }).selectOption('treatment');
    await again.getByLabel('Discharge summary').check();
    await again.getByRole('button', { name: 'Check consent and disclose' }).click();
    const packet = await page.getByRole('main').innerText();
    assert.match(packet, /Attended groups and met the plan goals\./);
    assert.match(await page.locator('#notice').innerText(), /42 CFR part 2/);
    await page.screenshot({ path: `${ARTIFACTS}discharge-summary-disclosure.png`, fullPage: true });

    await page.getByRole('link', { name: 'Accounting of disclosures' }).click();
    const table = await page.getByRole('main').locator('table').innerText();
    assert.match(table, new RegExp(PROVIDER));
    assert.match(table, /Discharge summary/);
  } finally {
    await t.stop();
  }
});
