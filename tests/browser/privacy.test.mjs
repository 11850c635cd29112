// Patient rights and the breach register: the privacy officer records a restriction request on a
// patient's rights page, agrees to it and ends it (telling the patient), then records a privacy incident, assesses it as a
// breach, opens the drafted letter and records it as sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS, clinicDay } from './harness.mjs';

test('privacy officer records a restriction request and a breach', async () => {
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

    // From the Consents tab to the patient's rights page.
    await page.goto(`${t.base}/patients/${id}/consents`);
    await main.getByRole('link', { name: /Patient rights: restrictions/ }).click();
    const request = main.locator('form', { has: page.getByRole('button', { name: 'Record request' }) });
    await request.getByLabel(/What the patient asked/).fill('Tell my employer nothing at all');
    await request.getByLabel(/Or a class of recipient/).selectOption('employer');
    await request.getByRole('button', { name: 'Record request' }).click();
    assert.match(await page.locator('#live').innerText(), /Restriction request recorded/);
    const row = main.locator('tr', { hasText: 'Tell my employer nothing at all' });
    assert.match(await row.innerText(), /Waiting for the privacy officer/);
    await row.getByLabel(/Decision on/).selectOption('agreed');
    await row.getByRole('button', { name: /Decide/ }).click();
    assert.match(await page.locator('#live').innerText(), /Decision recorded/);
    assert.match(await main.locator('tr', { hasText: 'Tell my employer nothing at all' }).innerText(), /Agreed/);
    await page.screenshot({ path: `${ARTIFACTS}privacy-restriction.png`, fullPage: true });

    // The program ends it, telling the patient (§2.26, 45 CFR 164.522(a)(2)).
    const agreed = main.locator('tr', { hasText: 'Tell my employer nothing at all' });
    await agreed.locator('summary', { hasText: /^End restriction #/ }).click();
    await agreed.getByLabel(/The program ends it and told the patient/).check();
    await agreed.getByRole('button', { name: /^End restriction #/ }).click();
    assert.match(await main.locator('.error-summary').innerText(), /the reason/);
    const again = main.locator('tr', { hasText: 'Tell my employer nothing at all' });
    await again.locator('summary', { hasText: /^End restriction #/ }).click();
    await again.getByLabel(/The program ends it and told the patient/).check();
    await again.getByLabel(/What the patient was told/).fill('We must confirm employment for your program');
    await again.getByRole('button', { name: /^End restriction #/ }).click();
    assert.match(await page.locator('#live').innerText(), /The end of the restriction is recorded/);
    assert.match(await main.locator('tr', { hasText: 'Tell my employer nothing at all' }).innerText(),
      /the program ended it, telling the patient .* still covers information created before/);
    await page.screenshot({ path: `${ARTIFACTS}privacy-restriction-ended.png`, fullPage: true });

    // The breach register, from the privacy page.
    await page.goto(`${t.base}/privacy`);
    await main.getByRole('link', { name: 'Breach register' }).click();
    const today = clinicDay();
    const form = main.locator('form', { has: page.getByRole('button', { name: 'Record incident' }) });
    await form.getByLabel(/^Discovered on/).fill(today);
    await form.getByLabel(/^What happened/).fill('a day sheet was faxed to the wrong number');
    await form.getByLabel('What information was involved').fill('Names and group times');
    await form.getByLabel(/What patients can do/).fill('Nothing is needed; call us with questions');
    await form.getByLabel('What the program is doing').fill('The recipient shredded it; fax numbers are checked twice');
    await form.getByLabel(/How patients reach us/).fill('Call 1-800-555-0100');
    await form.getByLabel('Patients affected').fill('1');
    await form.getByLabel(/Most of them living in one State/).fill('1');
    await form.getByLabel(/Patients by record number/).fill(mrn);
    await form.getByRole('button', { name: 'Record incident' }).click();
    assert.match(await page.locator('#live').innerText(), /a task is due on its 60th day/);

    for (const factor of [/Nature and extent/, /unauthorized person/, /actually acquired/, /risk was mitigated/]) {
      await main.getByRole('group', { name: factor }).getByLabel('Not low').check();
    }
    await main.getByLabel(/Why each factor weighs/).fill('A stranger received names; not retrieved for a day');
    await main.getByRole('group', { name: 'Conclusion' }).getByLabel(/Breach: notify/).check();
    await main.getByRole('button', { name: 'Record assessment' }).click();
    assert.match(await page.locator('#live').innerText(), /Assessment recorded/);

    await main.getByRole('link', { name: `Letter to ${mrn}` }).click();
    assert.match(await main.locator('pre.letter').innerText(), /What happened\n.*day sheet was faxed/);
    await main.getByRole('link', { name: /Back to incident/ }).click();
    await main.getByRole('button', { name: `Record letter to ${mrn} sent` }).click();
    assert.match(await page.locator('#live').innerText(), /Letter recorded as sent/);
    assert.match(await main.innerText(), /Every patient has been sent a letter/);
    await page.screenshot({ path: `${ARTIFACTS}privacy-breach.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});
