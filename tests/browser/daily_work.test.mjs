// Daily work, counting actions (clicks, fills, choices; signing in is not counted): the front
// desk checks in the evening group of 12, and the counselor writes and signs its group note
// from My day. Screenshots of the day sheet, check-in and group note pages at three widths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

const WIDTHS = [1366, 820, 390];

async function deskPage(t, options = {}) {
  const page = await (await t.browser.newContext(options)).newPage({ viewport: { width: 1366, height: 900 } });
  await signIn(page, t.base, 'frontdesk');
  return page;
}

function eveningOf(page) {
  return page.locator('section.session-roster', { has: page.getByRole('heading', { name: /Evening group/ }) });
}

async function shots(page, name) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name} at ${width}px overflows by ${overflow}px`);
    await page.screenshot({ path: `${ARTIFACTS}${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1366, height: 900 });
}

test('front desk checks in a group of 12 in at most 3 actions when everyone came', async () => {
  const t = await startTrellis();
  try {
    const desk = await deskPage(t);
    let actions = 0;
    await desk.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Day sheet' }).click(); actions++;
    const evening = eveningOf(desk);
    const rows = evening.locator('[data-roster-row]');
    const n = await rows.count();
    // The demo's evening group is full: the program's cap of 12.
    assert.equal(n, 12, 'the evening group has 12 members');
    await shots(desk, 'day-sheet');
    await evening.getByRole('button', { name: 'Save all' }).scrollIntoViewIfNeeded();
    const saveTop = () => evening.getByRole('button', { name: 'Save all' }).evaluate((b) => b.getBoundingClientRect().top);
    const topBefore = await saveTop();
    await evening.getByRole('button', { name: 'Save all' }).click(); actions++;
    const live = desk.locator('#live');
    await assert.doesNotReject(live.getByText(new RegExp(`Check-in saved for Evening group.*${n} present, 0 absent\\.`)).waitFor());
    assert.equal(await live.getAttribute('role'), 'status');
    // Scroll anchoring keeps the saved roster where it was on screen (the live region above may grow).
    assert.ok(Math.abs((await saveTop()) - topBefore) < 5, 'the page did not jump');
    assert.ok(desk.url().endsWith('/schedule/day-sheet'), 'saved in place, no reload');
    assert.equal(await evening.locator('.badge.ok', { hasText: 'Present' }).count(), n);
    assert.ok(actions <= 3, `${actions} actions`);
    console.log(`check-in, all ${n} came: ${actions} actions`);
  } finally {
    await t.stop();
  }
});

test('front desk checks in 12 with one absent and one late in at most 6 actions; errors link to the field', async () => {
  const t = await startTrellis();
  try {
    const desk = await deskPage(t);
    let actions = 0;
    await desk.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Day sheet' }).click(); actions++;
    const evening = eveningOf(desk);
    const rows = evening.locator('[data-roster-row]');
    assert.equal(await rows.count(), 12, 'the evening group has 12 members');
    const absent = rows.nth(2);
    const late = rows.nth(5);
    const lateName = (await late.locator('.who a').innerText()).trim();

    // A late row without minutes first: refused, the summary names the patient and links to the box.
    await late.getByText('Late', { exact: true }).click();
    await evening.getByRole('button', { name: 'Save all' }).click();
    const problem = evening.locator('.error-summary a', { hasText: `${lateName}: minutes late or left early` });
    await assert.doesNotReject(problem.waitFor());
    const anchor = (await problem.getAttribute('href')).slice(1);
    assert.equal(await desk.locator(`[id="${anchor}"]`).count(), 1, 'the link goes to an input that exists');
    await assert.doesNotReject(desk.locator('#live').getByText(/Check-in not saved/).waitFor());
    await desk.reload();

    // Counted: absent (1 choice), late (1 choice + minutes), save.
    await evening.locator('[data-roster-row]').nth(2).getByText('Absent (unexcused)').click(); actions++;
    const lateRow = evening.locator('[data-roster-row]').nth(5);
    await lateRow.getByText('Late', { exact: true }).click(); actions++;
    // Choosing late enables and focuses the minutes box.
    assert.equal(await lateRow.locator('input[data-minutes]').evaluate((el) => el === document.activeElement), true);
    await lateRow.locator('input[data-minutes]').fill('15'); actions++;
    await evening.getByRole('button', { name: 'Save all' }).click(); actions++;
    await assert.doesNotReject(desk.locator('#live').getByText('10 present, 1 late, 1 absent.').waitFor());
    assert.match(await evening.locator('[data-roster-row]').nth(5).innerText(), /165 of 180 min/);
    assert.match(await absent.innerText(), /Absent \(unexcused\)/);
    assert.ok(actions <= 6, `${actions} actions`);
    console.log(`check-in, one absent and one late: ${actions} actions`);

    // The tablet check-in page: large targets, same roster.
    await evening.getByRole('link', { name: 'Tablet check-in' }).click();
    await assert.doesNotReject(desk.locator('.kiosk [data-roster-row]').first().waitFor());
    await shots(desk, 'check-in-tablet');
  } finally {
    await t.stop();
  }
});

test('check-in works without JavaScript: plain post, redirect, same confirmation', async () => {
  const t = await startTrellis();
  try {
    const desk = await deskPage(t, { javaScriptEnabled: false });
    await desk.goto(`${t.base}/schedule/day-sheet`);
    const evening = eveningOf(desk);
    await evening.getByRole('button', { name: 'Save all' }).click();
    await desk.waitForURL(/saved=/);
    assert.match(await desk.locator('#live').innerText(), /Check-in saved for Evening group.*\d+ present/);
    assert.ok(await desk.locator('[id^="session"]:target').count() === 1, 'back at the session');
  } finally {
    await t.stop();
  }
});

test('a counselor writes and signs the group note for a session of 8 from My day', async () => {
  const t = await startTrellis();
  try {
    // The front desk checked the group in: 8 came, 4 did not, one of the 8 late.
    const desk = await deskPage(t);
    await desk.goto(`${t.base}/schedule/day-sheet`);
    const evening = eveningOf(desk);
    const rows = evening.locator('[data-roster-row]');
    const n = await rows.count();
    assert.equal(n, 12, 'the evening group has 12 members');
    for (let i = 8; i < n; i++) await rows.nth(i).getByText('Absent (excused)').click();
    await rows.nth(1).getByText('Late', { exact: true }).click();
    await rows.nth(1).locator('input[data-minutes]').fill('20');
    await evening.getByRole('button', { name: 'Save all' }).click();
    await assert.doesNotReject(desk.locator('#live').getByText(new RegExp(`7 present, 1 late, ${n - 8} absent\\.`)).waitFor());
    await shots(desk, 'check-in-saved');

    const page = await (await t.browser.newContext()).newPage({ viewport: { width: 1366, height: 900 } });
    await signIn(page, t.base, 'counselor');
    let actions = 0;
    await page.getByRole('link', { name: 'My day' }).click(); actions++;
    await page.getByRole('link', { name: 'Write the group note' }).click(); actions++;
    const members = page.locator('fieldset.member-note');
    assert.equal(await members.count(), 8, 'the 8 who came, from attendance');
    assert.match(await page.locator('main').innerText(), /Late: 160 of 180 min/);
    assert.equal((await page.locator('main').innerText()).match(/absent: no note/g).length, n - 8);
    await shots(page, 'group-note');

    await page.getByLabel(/Shared part/).fill('Relapse prevention: warning signs and a coping card each.'); actions++;
    for (let i = 0; i < 8; i++) {
      const m = members.nth(i);
      await m.getByLabel(/^Data for/).fill('Took part; named a trigger from this week.'); actions++;
      await m.getByLabel(/^Assessment for/).fill('Engaged; coping plan realistic.'); actions++;
      await m.getByLabel(/^Plan for/).fill('Practise the coping card; review next group.'); actions++;
    }
    await page.getByRole('button', { name: 'Save and sign' }).click(); actions++;
    await assert.doesNotReject(page.locator('#live').getByText('Group note saved and signed: 8 member notes.').waitFor());
    assert.equal(await page.locator('table a[href*="/notes#note"]').count(), 8);
    // Two clicks to the form, the shared part, three boxes a member, one Save and sign: nothing
    // else to choose or fill (the roster, times and service code come from the session).
    assert.equal(actions, 2 + 1 + 3 * 8 + 1, `${actions} actions`);
    console.log(`group note for 8, written and signed from My day: ${actions} actions`);
    await shots(page, 'group-note-signed');

    // Past group notes are links; the session now opens its note.
    await page.getByRole('link', { name: 'My day' }).click();
    await page.getByRole('link', { name: 'Open the group note' }).click();
    await assert.doesNotReject(page.getByRole('heading', { name: /Evening group/ }).waitFor());
  } finally {
    await t.stop();
  }
});
