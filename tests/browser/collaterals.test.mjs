// Collateral contacts: add one, record a consent naming them, see what they may receive now,
// disclose to them through the consent check, and find the disclosure in the accounting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('counselor adds a collateral contact, consents them, discloses to them and sees the accounting', async () => {
  const t = await startTrellis();
  try {
    // Disclosures go to recipient directory entries, which the privacy officer keeps.
    const officer = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(officer, t.base, 'privacy');
    await officer.goto(`${t.base}/privacy/recipients`);
    const add = officer.locator('section', { has: officer.getByRole('heading', { name: 'Add a recipient' }) });
    await add.getByLabel(/^Name/).fill('Riley Quinn, County Probation');
    await add.getByLabel('Class').selectOption('law_enforcement');
    await add.getByRole('button', { name: 'Add recipient' }).click();
    assert.match(await officer.locator('#live').innerText(), /saved/);

    const page = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.base, 'counselor');
    const caseload = page.locator('section', { has: page.getByRole('heading', { name: /My caseload/ }) });
    await caseload.getByRole('link').nth(1).click();
    // The consent carries the legal name; the chart header shows it when a preferred name differs.
    const legal = page.locator('.chart-header dt', { hasText: 'Legal name' });
    const name = (await legal.count())
      ? (await page.locator('.chart-header dt:text("Legal name") + dd').innerText()).trim()
      : (await page.locator('.chart-header h1').innerText()).replace(/\(.*\)/, '').trim();
    await page.getByRole('link', { name: /Consents/ }).click();

    const contacts = page.locator('section', { has: page.getByRole('heading', { name: 'Collateral contacts' }) });
    await contacts.getByText('Add a collateral contact').click();
    await contacts.getByLabel('Relationship', { exact: true }).last().selectOption('probation_officer');
    await contacts.getByLabel('Contact name').fill('Riley Quinn');
    await contacts.getByLabel(/^Organisation/).last().fill('County Probation');
    await contacts.getByLabel('Contact phone').fill('555-201-3344');
    await contacts.getByRole('button', { name: 'Add contact' }).click();
    const riley = page.getByRole('article', { name: 'Riley Quinn, County Probation' });
    assert.match(await riley.innerText(), /Nothing: no consent in effect names them/);

    // A consent naming the contact: the recipient wording is filled from the contact.
    const record = page.locator('section', { has: page.getByRole('heading', { name: 'Record a consent' }) });
    await record.getByText('Record a new consent').click();
    await record.getByLabel('Attendance and participation').check();
    await record.getByLabel('Drug screen results').check();
    await record.getByLabel(/Names a collateral contact/).selectOption({ label: 'Riley Quinn, County Probation (Probation or parole officer)' });
    await record.getByLabel('Legal proceedings (court, probation)').check();
    await record.getByLabel('On a date').check();
    await record.getByLabel('Expiry date').fill('2099-12-31');
    await record.getByLabel(/Signature: typed full name/).fill(name);
    await record.getByRole('button', { name: 'Record consent' }).click();

    const allowed = await page.getByRole('article', { name: 'Riley Quinn, County Probation' }).locator('.may-receive').innerText();
    assert.match(allowed, /Attendance and participation, Drug screen results · for Legal proceedings/);
    await page.screenshot({ path: `${ARTIFACTS}collateral-may-receive.png`, fullPage: true });

    await page.getByRole('article', { name: 'Riley Quinn, County Probation' })
      .getByRole('link', { name: 'Disclose to this contact' }).click();
    const disclose = page.locator('section', { has: page.getByRole('heading', { name: 'Disclose information' }) });
    // Pre-filled from the contact, so the disclosure form is already open.
    assert.match(await disclose.locator('#d_recipient_id option:checked').innerText(), /^Riley Quinn, County Probation · /);
    await disclose.getByRole('button', { name: 'Check consent and disclose' }).click();
    assert.match(await page.locator('#notice').innerText(), /42 CFR part 2/);
    assert.match(await page.locator('#consent-scope').innerText(), /Riley Quinn/);

    await page.getByRole('link', { name: 'Accounting of disclosures' }).click();
    const table = await page.locator('table').innerText();
    assert.match(table, /Riley Quinn, County Probation/);
    assert.match(table, /Legal proceedings/);
    await page.screenshot({ path: `${ARTIFACTS}collateral-accounting.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});
