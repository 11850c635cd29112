// Part 2 flow: the privacy officer lists the recipient with their class in the recipient
// directory; the counselor records a consent, discloses to the directory entry under it, and
// sees the disclosure in the accounting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('counselor records a consent, makes a disclosure and finds it in the accounting', async () => {
  const t = await startTrellis();
  try {
    const officer = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(officer, t.base, 'privacy');
    await officer.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Privacy' }).click();
    await officer.getByRole('link', { name: 'Recipient directory' }).click();
    const add = officer.locator('section', { has: officer.getByRole('heading', { name: 'Add a recipient' }) });
    await add.getByLabel(/^Name/).fill('Morgan Blake, County Probation');
    await add.getByLabel('Class').selectOption({ label: 'Law enforcement, probation or parole' });
    await add.getByLabel(/How to reach them/).fill('County Probation, Fax 555-201-9100');
    await add.getByRole('button', { name: 'Add recipient' }).click();
    assert.match(await officer.locator('#live').innerText(), /saved/);
    const row = officer.getByRole('row', { name: /Morgan Blake, County Probation/ });
    assert.match(await row.innerText(), /Law enforcement, probation or parole/);
    await officer.screenshot({ path: `${ARTIFACTS}recipient-directory.png`, fullPage: true });

    const page = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.base, 'counselor');
    const caseload = page.locator('section', { has: page.getByRole('heading', { name: /My caseload/ }) });
    await caseload.getByRole('link').first().click();
    // The consent carries the legal name; the chart header shows it when a preferred name differs.
    const legal = page.locator('.chart-header dt', { hasText: 'Legal name' });
    const name = (await legal.count())
      ? (await page.locator('.chart-header dt:text("Legal name") + dd').innerText()).trim()
      : (await page.locator('.chart-header h1').innerText()).replace(/\(.*\)/, '').trim();
    await page.getByRole('link', { name: /Consents/ }).click();

    // A disclosure to someone the patient has not consented to is refused, with the reason.
    const disclose = page.locator('section', { has: page.getByRole('heading', { name: 'Disclose information' }) });
    // The form opens on demand, like the consent form.
    await disclose.getByText('Start a disclosure').click();
    // The recipient is chosen from the directory: no class can be typed here.
    await disclose.getByLabel(/^Recipient/).selectOption({ label: 'Morgan Blake, County Probation · Law enforcement, probation or parole' });
    await disclose.getByLabel('Purpose', { exact: true }).selectOption('legal');
    await disclose.getByLabel('Attendance and participation').check();
    await disclose.getByRole('button', { name: 'Check consent and disclose' }).click();
    assert.match(await page.locator('#refusal').innerText(), /Disclosure refused/);

    const record = page.locator('section', { has: page.getByRole('heading', { name: 'Record a consent' }) });
    await record.getByText('Record a new consent').click();
    await record.getByLabel('Attendance and participation').check();
    await record.getByLabel('Drug screen results').check();
    await record.getByLabel('Name of the person or organisation').fill('Morgan Blake, County Probation');
    await record.getByLabel('Legal proceedings (court, probation)').check();
    await record.getByLabel('On a date').check();
    await record.getByLabel('Expiry date').fill('2099-12-31');
    await record.getByLabel(/Signature: typed full name/).fill(name);
    await record.getByRole('button', { name: 'Record consent' }).click();
    assert.match(await page.locator('main').innerText(), /Morgan Blake, County Probation/);
    assert.equal(await page.locator('[data-state="active"]').count() > 0, true);

    const again = page.locator('section', { has: page.getByRole('heading', { name: 'Disclose information' }) });
    await again.getByText('Start a disclosure').click();
    await again.getByLabel(/^Recipient/).selectOption({ label: 'Morgan Blake, County Probation · Law enforcement, probation or parole' });
    await again.getByLabel('Purpose', { exact: true }).selectOption('legal');
    await again.getByLabel('Attendance and participation').check();
    await again.getByRole('button', { name: 'Check consent and disclose' }).click();
    assert.match(await page.locator('#notice').innerText(), /42 CFR part 2/);
    assert.match(await page.locator('#consent-scope').innerText(), /Morgan Blake/);
    await page.screenshot({ path: `${ARTIFACTS}disclosure-packet.png`, fullPage: true });

    await page.getByRole('link', { name: 'Accounting of disclosures' }).click();
    const table = await page.locator('table').innerText();
    assert.match(table, /Morgan Blake, County Probation/);
    assert.match(table, /Legal proceedings/);
    await page.screenshot({ path: `${ARTIFACTS}accounting-of-disclosures.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});
