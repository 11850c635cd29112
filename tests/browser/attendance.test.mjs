// Front desk checks a patient into today's evening group; the counselor sees weekly hours update.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('front desk checks a patient into the evening group and the counselor sees the hours', async () => {
  const t = await startTrellis();
  try {
    const desk = await (await t.browser.newContext()).newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(desk, t.base, 'frontdesk');
    await desk.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Day sheet' }).click();
    const evening = desk.locator('section', { has: desk.getByRole('heading', { name: /Evening group/ }) });
    await assert.doesNotReject(evening.waitFor());
    const row = evening.locator('[data-roster-row]').first();
    const patientId = await row.getAttribute('data-patient');
    assert.ok(patientId, 'the evening group has enrolled patients');

    // The counselor looks at this week's hours before check-in.
    const counselor = await (await t.browser.newContext()).newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(counselor, t.base, 'counselor');
    await counselor.goto(`${t.base}/patients/${patientId}/schedule`);
    const hoursCell = counselor.locator('#weekly-hours tbody tr').first().locator('td.hours');
    const before = parseFloat(await hoursCell.innerText());

    // Check in: everyone present for the whole session, one save.
    await evening.getByRole('button', { name: 'Save all' }).click();
    const saved = desk.locator(`[data-roster-row][data-patient="${patientId}"]`);
    await assert.doesNotReject(saved.locator('.attended', { hasText: '180 of 180 min' }).waitFor());

    await counselor.reload();
    const after = parseFloat(await hoursCell.innerText());
    assert.equal(after, before + 3, `weekly hours went from ${before} to ${after}`);
    assert.match(await counselor.locator('main').innerText(), /Program minimum: 9 h/);
    await counselor.screenshot({ path: `${ARTIFACTS}weekly-hours.png`, fullPage: true });
  } finally {
    await t.stop();
  }
});
