// Discharge: a counselor discharges a patient, drafts the summary from the record, writes and
// signs it, adds aftercare, sees the 30/60/90-day follow-ups and records the 30-day outcome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

const iso = (d) => d.toISOString().slice(0, 10);

test('counselor discharges, signs the summary, plans aftercare and records the 30-day follow-up', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.base, 'counselor');
    // The longest-admitted patient on the caseload, discharged 30 days ago so that the 30-day
    // follow-up (callable from a week before it is due) can be recorded today. Their level-of-care
    // changes are all older than that, and a discharge may not predate one.
    const caseload = page.locator('section', { has: page.getByRole('heading', { name: /My caseload/ }) });
    const rows = await caseload.locator('tbody tr').all();
    let oldest = null;
    for (const row of rows) {
      const admitted = new Date(`${(await row.locator('td').nth(3).innerText()).trim()} UTC`);
      if (!oldest || admitted < oldest.admitted) oldest = { row, admitted };
    }
    assert.ok(oldest && Date.now() - oldest.admitted.getTime() > 31 * 86400000, 'a patient admitted over 31 days ago');
    await oldest.row.getByRole('link').first().click();
    await page.getByRole('link', { name: /Episodes/ }).first().click();
    await page.getByRole('link', { name: 'Discharge', exact: true }).click();
    await page.getByLabel('Discharge date').fill(iso(new Date(Date.now() - 30 * 86400000)));
    await page.getByLabel(/reason/i).selectOption('1');
    await page.getByRole('button', { name: 'Discharge' }).click();

    // The discharge page: draft from the record, write the course, sign.
    await page.getByRole('heading', { name: /Discharge summary/ }).waitFor();
    await page.getByRole('button', { name: 'Draft the summary from the record' }).click();
    assert.match(await page.getByLabel('Admission and discharge', { exact: true }).inputValue(), /Treatment completed/);
    assert.match(await page.getByLabel('Medications', { exact: true }).inputValue(), /None recorded\.|continuing|stopped/);
    await page.getByLabel(/Course of treatment/).fill('Attended groups and met the plan goals.');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('button', { name: 'Sign summary' }).click();
    const summary = await page.locator('section', { has: page.getByRole('heading', { name: /Discharge summary/ }) }).innerText();
    assert.match(summary, /Signed .* by/);
    assert.match(summary, /Attended groups and met the plan goals\./);
    assert.equal(await page.getByRole('button', { name: 'Sign summary' }).count(), 0);

    // Aftercare: the 988 line is always there; add a step-down.
    await page.getByText('Add to the aftercare plan').click();
    await page.getByLabel('What').selectOption('step_down');
    await page.getByLabel(/Provider, meeting/).fill('Eastside Outpatient');
    await page.getByLabel(/Contact/).first().fill('(555) 201-7700');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const aftercare = await page.locator('section', { has: page.getByRole('heading', { name: 'Aftercare plan' }) }).innerText();
    assert.match(aftercare, /988/);
    assert.match(aftercare, /Step-down to outpatient: Eastside Outpatient/);

    // Follow-ups at 30, 60 and 90 days; record the 30-day outcome.
    for (const days of [30, 60, 90]) {
      assert.match(await page.locator(`#follow-up-${days}`).innerText(), new RegExp(`${days}-day`));
    }
    const thirty = page.locator('#follow-up-30');
    await thirty.getByLabel('Contact').selectOption('reached');
    await thirty.getByLabel('Status').selectOption('in_recovery');
    await thirty.getByLabel(/Note/).fill('Going to AA twice a week');
    await thirty.getByRole('button', { name: 'Record outcome' }).click();
    assert.match(await page.locator('#follow-up-30').innerText(), /Reached; In recovery: Going to AA twice a week/);
    await page.screenshot({ path: `${ARTIFACTS}discharge.png`, fullPage: true });

    await page.getByRole('link', { name: 'Printable summary' }).click();
    assert.match(await page.locator('main').innerText(), /Aftercare plan[\s\S]*988/);
  } finally {
    await t.stop();
  }
});
