// Disclosures without consent: the privacy officer's subpoena is refused by name, a court order
// with its findings and limits is recorded, and a disclosure under it from the patient's
// Consents tab leaves as a packet carrying the order's terms; ended early, it authorises nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('privacy officer records a court order and discloses under it', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.base, 'privacy');
    const main = page.getByRole('main');
    await page.goto(`${t.base}/patients`);
    const href = await main.locator('a').evaluateAll((links) =>
      links.map((a) => a.getAttribute('href')).find((h) => /^\/patients\/\d+$/.test(h || '')));
    const id = href.match(/^\/patients\/(\d+)$/)[1];
    const mrn = `TR${id.padStart(6, '0')}`;
    const today = new Date().toISOString().slice(0, 10);

    await page.goto(`${t.base}/privacy`);
    await main.getByRole('link', { name: 'Court orders and agreements' }).click();
    let order = main.locator('form', { has: page.getByRole('button', { name: 'Record the court order' }) });
    await order.getByLabel(/medical record number/).fill(mrn);
    await order.getByLabel('What the court sent').selectOption('subpoena');
    await order.getByRole('button', { name: 'Record the court order' }).click();
    assert.match(await main.locator('.error-summary').innerText(), /subpoena alone never authorises/);

    order = main.locator('form', { has: page.getByRole('button', { name: 'Record the court order' }) });
    await order.getByLabel(/medical record number/).fill(mrn);
    await order.getByLabel('What the court sent').selectOption('order');
    await order.getByLabel('Court', { exact: true }).fill('County Family Court');
    await order.getByLabel('Case or docket number').fill('FC-2026-118');
    await order.getByLabel('Date of the order').fill(today);
    await order.getByLabel(/Other ways of obtaining/).check();
    await order.getByLabel(/The public interest and need outweigh/).check();
    await order.getByLabel(/To whom/).selectOption({ label: 'Officer Dana Brooks, County Adult Probation · Law enforcement, probation or parole' });
    await order.getByLabel('Attendance and participation').check();
    await order.getByLabel('From', { exact: true }).fill(today);
    await order.getByLabel('Until', { exact: true }).fill(today);
    await order.getByLabel(/Protective measures ordered/).fill('Filed under seal');
    await order.getByRole('button', { name: 'Record the court order' }).click();
    assert.match(await page.locator('#live').innerText(), /Court order .* recorded/);
    const orderPage = page.url().replace(/\?.*$/, '');
    await page.screenshot({ path: `${ARTIFACTS}court-order.png`, fullPage: true });

    await page.goto(`${t.base}/patients/${id}/consents`);
    await main.getByRole('link', { name: 'Disclose without consent' }).click();
    await main.getByRole('radio', { name: /Court order/ }).check();
    await main.getByRole('checkbox', { name: 'Attendance and participation' }).check();
    await main.getByRole('button', { name: 'Disclose' }).click();
    assert.match(await main.locator('#consent-scope').innerText(), /FC-2026-118/);
    assert.match(await main.innerText(), /What allows this disclosure/);
    await page.screenshot({ path: `${ARTIFACTS}court-order-packet.png`, fullPage: true });

    // The court vacates it: ended early, with the reason kept, it authorises nothing more.
    await page.goto(orderPage);
    const end = main.locator('form', { has: page.getByRole('button', { name: /^End #/ }) });
    await end.getByRole('button', { name: /^End #/ }).click();
    assert.match(await main.locator('.error-summary').innerText(), /say why/);
    await main.getByLabel('Why it ends').fill('Vacated by the court on appeal');
    await main.getByRole('button', { name: /^End #/ }).click();
    assert.match(await page.locator('#live').innerText(), /ended: it authorises nothing from now/);
    assert.match(await main.innerText(), /Ended early .*Vacated by the court on appeal/);
    await page.screenshot({ path: `${ARTIFACTS}court-order-ended.png`, fullPage: true });
    await page.goto(`${t.base}/patients/${id}/consents`);
    await main.getByRole('link', { name: 'Disclose without consent' }).click();
    await main.getByRole('radio', { name: /Court order/ }).check();
    await main.getByRole('checkbox', { name: 'Attendance and participation' }).check();
    await main.getByRole('button', { name: 'Disclose' }).click();
    assert.match(await main.innerText(), /ended on .* authorises nothing since/);
  } finally {
    await t.stop();
  }
});
