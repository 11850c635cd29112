// Disclosures without consent: the privacy officer's subpoena is refused by name, a court order
// with its findings and limits is recorded, and a disclosure under it from the patient's
// Consents tab leaves as a packet carrying the order's terms; ended early, it authorises nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS, clinicDay } from './harness.mjs';

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
    const today = clinicDay();

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

// §2.53: an auditor account bound to an audit agreement, created by the administrator and
// approved by the privacy officer, signs in and sees only the agreement's program and
// information, on screen; the privacy officer sees each review on the agreement's page.
test('an auditor signs in and reviews only what the agreement covers', async () => {
  const t = await startTrellis();
  try {
    const context = await t.browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, t.base, 'privacy');
    const main = page.getByRole('main');
    const today = clinicDay();
    const later = clinicDay(30);
    await page.goto(`${t.base}/privacy/authorities`);
    const form = main.locator('form', { has: page.getByRole('button', { name: 'Record the agreement' }) });
    await form.getByLabel('Kind').selectOption('audit_evaluation');
    await form.getByLabel(/With whom/).selectOption({ index: 1 });
    await form.getByLabel('Signed on').fill(today);
    await form.getByLabel('From', { exact: true }).fill(today);
    await form.getByLabel('Until', { exact: true }).fill(later);
    await form.getByLabel('Attendance and participation').check();
    await form.getByLabel('Diagnoses').check();
    await form.getByLabel('On behalf of').selectOption('government_agency');
    await form.getByLabel("That body's name").fill('State Department of Health');
    await form.getByLabel('What the audit or evaluation covers').fill('Annual licensing review');
    await form.getByLabel(/The agreement is signed/).check();
    await form.getByRole('button', { name: 'Record the agreement' }).click();
    assert.match(await page.locator('#live').innerText(), /recorded/);
    const agreementPage = page.url().replace(/\?.*$/, '');
    const agreement = agreementPage.match(/(\d+)$/)[1];

    const admin = await (await t.browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signIn(admin, t.base, 'admin');
    await admin.goto(`${t.base}/admin/users`);
    const add = admin.getByRole('main').locator('form', { has: admin.getByRole('button', { name: 'Create account' }) });
    await add.getByLabel(/Username/).fill('auditor1');
    await add.getByLabel('Full name').fill('Avery Auditor');
    await add.getByLabel('Role').selectOption('auditor');
    await add.getByLabel(/Agreement number/).fill(agreement);
    await add.getByLabel(/^Program/).selectOption({ index: 1 });
    const program = (await add.getByLabel(/^Program/).locator('option:checked').innerText()).trim();
    await add.getByLabel(/Initial password/).fill('trellis-demo-2026');
    await add.getByRole('button', { name: 'Create account' }).click();
    await admin.waitForURL(/\/admin\/users\/\d+$/);

    // The second person: the privacy officer approves the role.
    await page.goto(`${t.base}/admin/role-approvals`);
    const row = main.locator('tr', { hasText: 'Avery Auditor' });
    await row.getByRole('button', { name: 'Approve' }).click();

    const auditor = await (await t.browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await auditor.goto(`${t.base}/login`);
    await auditor.getByLabel('Username').fill('auditor1');
    await auditor.getByLabel('Password').fill('trellis-demo-2026');
    await auditor.getByRole('button', { name: 'Sign in' }).click();
    await auditor.waitForURL(`${t.base}/review`);
    const review = auditor.getByRole('main');
    assert.match(await review.innerText(), /disclosed only back to this program/);
    assert.match(await review.locator('#review-categories').innerText(), /^Attendance and participation, Diagnoses$/);
    assert.match(await review.innerText(), new RegExp(`Program\\s+${program}`));
    const nav = await auditor.getByRole('navigation', { name: 'Main' }).innerText();
    assert.doesNotMatch(nav, /Patients|Dashboard/);
    const inScope = await review.locator('#review-patients a').evaluateAll((links) =>
      links.map((a) => a.getAttribute('href').match(/(\d+)$/)[1]));
    assert.ok(inScope.length > 0);
    await auditor.screenshot({ path: `${ARTIFACTS}auditor-review.png`, fullPage: true });
    await review.locator('#review-patients a').first().click();
    const headings = await review.locator('#review-record h2').allInnerTexts();
    assert.deepEqual(headings, ['Attendance and participation', 'Diagnoses']);
    assert.equal(await review.getByRole('button', { name: /Print|Download/ }).count(), 0);

    // A patient of another program is refused, and so is the chart itself.
    await page.goto(`${t.base}/patients`);
    const all = await main.locator('a').evaluateAll((links) =>
      links.map((a) => (a.getAttribute('href') || '').match(/^\/patients\/(\d+)$/)).filter(Boolean).map((m) => m[1]));
    const outside = all.find((id) => !inScope.includes(id));
    assert.ok(outside, 'the demo has patients outside the program');
    let res = await auditor.goto(`${t.base}/review/patients/${outside}`);
    assert.equal(res.status(), 403);
    res = await auditor.goto(`${t.base}/patients/${inScope[0]}`);
    assert.equal(res.status(), 403);

    // The privacy officer sees the review; ending the agreement ends the access.
    await page.goto(agreementPage);
    assert.match(await main.locator('#auditors').innerText(), /Avery Auditor \(auditor1\)/);
    assert.equal(await main.locator('#auditor-reads tbody tr').count(), 1);
    await main.getByLabel('Why it ends').fill('Licensing review finished');
    await main.getByRole('button', { name: /^End #/ }).click();
    res = await auditor.goto(`${t.base}/review/patients/${inScope[0]}`);
    assert.equal(res.status(), 403);
    await auditor.goto(`${t.base}/review`);
    assert.match(await review.innerText(), /Nothing can be reviewed/);
  } finally {
    await t.stop();
  }
});
