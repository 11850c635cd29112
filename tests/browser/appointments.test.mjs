// Front desk books an appointment that clashes with the patient's evening group, sees the
// double-booking refused, books it anyway with a reason, and finds it on the day sheet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('a conflicting appointment needs an override reason and shows on the day sheet', async () => {
  const t = await startTrellis();
  try {
    const desk = await (await t.browser.newContext()).newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(desk, t.base, 'frontdesk');
    await desk.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Day sheet' }).click();
    const evening = desk.locator('section', { has: desk.getByRole('heading', { name: /Evening group/ }) });
    await assert.doesNotReject(evening.waitFor());
    const patientId = await evening.locator('[data-patient]').first().getAttribute('data-patient');
    const today = await desk.locator('#date').inputValue();

    await desk.goto(`${t.base}/patients/${patientId}/schedule`);
    const form = desk.locator('#book-appointment');
    await form.locator('#kind').selectOption('individual_therapy');
    await form.locator('#clinician_id').selectOption({ index: 1 });
    await form.locator('#room').selectOption('telehealth');
    await form.locator('#appt_date').fill(today);
    await form.locator('#appt_start').fill('18:30');
    await form.locator('#appt_end').fill('19:20');
    await form.getByRole('button', { name: 'Book' }).click();

    const conflicts = desk.locator('#conflicts');
    await assert.doesNotReject(conflicts.waitFor());
    assert.match(await conflicts.innerText(), /Double-booking:.*Evening group/);
    await desk.screenshot({ path: `${ARTIFACTS}appointment-conflict.png`, fullPage: true });

    await desk.locator('#override_reason').fill('Only time the patient can see the therapist this week');
    await desk.getByRole('button', { name: 'Book anyway' }).click();
    await assert.doesNotReject(desk.getByText('overridden: Only time the patient').waitFor());

    await desk.goto(`${t.base}/schedule/day-sheet?date=${today}`);
    const appointments = desk.locator('section', { has: desk.getByRole('heading', { name: 'Appointments' }) });
    const row = appointments.locator('tbody tr', { hasText: 'Individual therapy' }).filter({ hasText: '18:30' });
    await assert.doesNotReject(row.first().waitFor());
    await desk.screenshot({ path: `${ARTIFACTS}appointment-day-sheet.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});
