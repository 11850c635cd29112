// Intake assessment: a counselor records an intake with the six ASAM ratings, sees the
// recommended level with the reasons that led to it, places the patient at a different level
// with a discrepancy reason (first forgetting the reason, which is refused by name), and finds
// the decision in the assessment history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('counselor records an intake, sees the recommendation and places with a reason', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.base, 'counselor');
    const caseload = page.locator('section', { has: page.getByRole('heading', { name: /My caseload/ }) });
    await caseload.locator('tbody tr').first().getByRole('link').first().click();
    await page.getByRole('link', { name: 'Assessment' }).click();
    assert.match(await page.locator('main').innerText(), /Assessment history/);

    const form = page.getByRole('form', { name: 'Intake assessment' });
    if (!(await form.isVisible())) await page.locator('summary', { hasText: /Record (the intake assessment|a reassessment)/ }).click();
    await form.getByLabel('Reason for referral and presenting problem').fill('Daily drinking after a layoff; referred by probation.');
    await form.getByLabel('Living situation and supports').fill('Lives with a partner who drinks.');
    await form.locator('input[name="substance_1"]').fill('Alcohol');
    await form.locator('select[name="route_1"]').selectOption('oral');
    await form.locator('select[name="frequency_1"]').selectOption('daily');
    await form.locator('input[name="age_first_use_1"]').fill('15');
    // D5 = 3 (continued use likely without near-daily structure) sets partial hospitalization.
    for (const [d, v] of [[1, '1'], [2, '1'], [3, '2'], [4, '2'], [5, '3'], [6, '2']]) {
      await form.locator(`select[name="d${d}"]`).selectOption(v);
      await form.locator(`textarea[name="d${d}_narrative"]`).fill(`Dimension ${d} rated ${v} on history and the here and now.`);
    }
    await form.getByRole('button', { name: 'Save and see the recommendation' }).click();

    const card = page.locator('section.card[id^="assessment-"]').first();
    const shown = await card.innerText();
    assert.match(shown, /Recommended level: 2\.5 Partial hospitalization \(PHP\)/);
    assert.match(shown, /Sets the level: D5 Relapse, continued use or continued problem potential rated 3/);
    assert.match(shown, /rule D5-3/);
    await page.screenshot({ path: `${ARTIFACTS}intake-recommendation.png`, fullPage: true });

    const placement = card.getByRole('form', { name: 'Record the placement' });
    await placement.getByLabel('Actual level of care').selectOption('2.1');
    await placement.getByRole('button', { name: 'Record placement' }).click();
    assert.match(await page.locator('.error-summary').innerText(), /give at least one reason for the discrepancy/);

    const retry = page.locator('section.card[id^="assessment-"]').first().getByRole('form', { name: 'Record the placement' });
    await retry.getByLabel('Actual level of care').selectOption('2.1');
    await retry.getByLabel('Transportation').check();
    await retry.getByLabel('Explanation').fill('PHP runs days across town; no car.');
    await retry.getByRole('button', { name: 'Record placement' }).click();

    const history = await page.locator('section.card[id^="assessment-"]').first().innerText();
    assert.match(history, /Placed at: 2\.1 Intensive outpatient \(IOP\)/);
    assert.match(history, /differs from the recommendation/);
    assert.match(history, /Discrepancy reasons\s+Transportation/);
    assert.match(history, /PHP runs days across town/);
    await page.screenshot({ path: `${ARTIFACTS}intake-placed.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});
