// Phases: a counselor opens a phase-1 patient's Phase tab, sees the one recommendation and each
// promotion criterion and safety check (met, not met, or not recorded with its figures), promotes the patient to phase 2 from next Monday
// and finds the decision in the phase history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS } from './harness.mjs';

test('counselor sees the criteria and promotes a patient to phase 2 from next Monday', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.base, 'counselor');
    const caseload = page.locator('section', { has: page.getByRole('heading', { name: /My caseload/ }) });
    const hrefs = await caseload.locator('tbody tr a[href^="/patients/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')).filter((h) => /^\/patients\/\d+$/.test(h)));
    let found = null;
    for (const href of hrefs) {
      await page.goto(`${t.base}${href}/phase`);
      // textContent: the decision form is folded in a <details> until opened.
      const main = await page.locator('main').textContent();
      if (/Current phase: Phase 1/.test(main) && /Promote to Phase 2/.test(main)) {
        found = href;
        break;
      }
    }
    assert.ok(found, 'a phase-1 patient on the caseload');
    // One recommendation, then the step-down criteria with the safety checks no setting removes.
    const verdict = await page.locator('#phase-recommendation').innerText();
    assert.match(verdict, /(Step down recommended|Stay recommended|Consider a step up)/);
    const stepDown = page.locator('section', { has: page.getByRole('heading', { name: /^Criteria for a step down to/ }) });
    const criteria = await stepDown.locator('table').innerText();
    assert.match(criteria, /weeks in phase/);
    assert.match(criteria, /attendance rate/);
    assert.match(criteria, /negative drug screens\s+(✓ met|✗ not met|not recorded)/);
    assert.match(criteria, /treatment-plan objectives met\s+(✓ met|✗ not met|not recorded)/);
    for (const safety of [/weekly hours met/, /no open safety flag/, /no unanswered safety task/, /no step-up sign/]) {
      assert.match(criteria, safety);
    }
    await page.screenshot({ path: `${ARTIFACTS}phases-criteria.png`, fullPage: true });

    await page.getByText('Record a phase decision').click();
    await page.getByLabel(/Promote to Phase 2/).check();
    const monday = await page.getByLabel(/^From/).inputValue();
    const day = new Date(`${monday}T12:00:00Z`);
    assert.equal(day.getUTCDay(), 1, 'the form proposes next Monday');
    await page.getByLabel(/^Reason/).fill('Attending steadily; screens negative per the lab log');
    await page.getByRole('button', { name: 'Record decision' }).click();

    const history = await page.locator('#phase-history').innerText();
    assert.match(history, /Promoted \(step down\)/);
    assert.match(history, /Phase 2: early recovery/);
    assert.match(history, /Attending steadily/);
    assert.match(await page.locator('main').innerText(), /Current phase: Phase 2/);
    await page.screenshot({ path: `${ARTIFACTS}phases-history.png`, fullPage: true });

    await page.goto(`${t.base}/caseload/step-down-review`);
    assert.match(await page.locator('h1').innerText(), /Ready for step-down review/);
  } finally {
    await t.stop();
  }
});
