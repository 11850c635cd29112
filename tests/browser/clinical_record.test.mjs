// Clinical record: a counselor writes and signs a treatment plan, revises it (the old version
// stays viewable) and prints it. Group notes are written from the session (daily_work.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, signIn, ARTIFACTS, clinicDay } from './harness.mjs';

const byId = (page, id) => page.locator(`[id="${id}"]`);

test('counselor writes, signs and revises a treatment plan', async () => {
  const t = await startTrellis();
  try {
    const page = await t.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, t.base, 'counselor');
    const caseload = page.locator('section', { has: page.getByRole('heading', { name: /My caseload/ }) });
    const hrefs = await caseload.getByRole('link').evaluateAll((links) => links.map((a) => a.getAttribute('href')));
    assert.ok(hrefs.length >= 3, 'the counselor has a caseload');

    // The newest admission has no plan yet.
    let patient = null;
    for (const href of hrefs) {
      await page.goto(`${t.base}${href}/treatment-plan`);
      if (await page.getByText('No signed treatment plan yet.').count()
          && await page.getByRole('heading', { name: 'Write the treatment plan' }).count()) {
        patient = href;
        break;
      }
    }
    assert.ok(patient, 'a patient without a plan');
    const target = clinicDay(30);
    await page.getByLabel('Problem 1: the problem').fill('Alcohol use disorder, moderate: drinking daily after work');
    // A problem comes from a diagnosis on the patient's list (the demo's newest admission may
    // have none yet), never from a typed code.
    const dx = byId(page, 'p0.diagnosis');
    const options = await dx.locator('option').allInnerTexts();
    const code = options.length > 1 ? options[1].split(' ')[0] : null;
    if (code) await dx.selectOption({ index: 1 });
    await page.getByLabel("Problem 1, goal 1: in the patient's own words").fill('I want to be present for my kids');
    await page.getByLabel('Problem 1, goal 1, objective 1: measurable objective').fill('Attend 3 IOP groups a week for 4 weeks');
    await page.getByLabel('Problem 1, goal 1, objective 1: target date').fill(target);
    await byId(page, 'p0.g0.o0.i0.modality').selectOption('group');
    await byId(page, 'p0.g0.o0.i0.frequency').fill('3 times a week');
    await page.getByRole('button', { name: 'Save draft' }).click();
    assert.match(await page.locator('main').innerText(), /Draft: version 1/);

    await page.getByLabel("Patient's signature").fill('Patient Typed Name');
    await page.getByLabel('Your signature').fill('Counselor Typed Name');
    await page.getByRole('button', { name: 'Sign the plan' }).click();
    let main = await page.locator('main').innerText();
    assert.match(main, /Plan in force: version 1/);
    if (code) assert.ok(main.includes(`Diagnosis ${code}`), `the problem names ${code}`);
    assert.match(main, /Patient Typed Name/);

    // Revise: version 2 starts as a copy; version 1 stays as it was.
    await page.getByRole('button', { name: 'Revise the plan' }).click();
    assert.match(await page.locator('main').innerText(), /Draft: version 2/);
    await page.getByLabel('Problem 1, goal 1, objective 1: measurable objective').fill('Attend 3 IOP groups a week for 6 weeks');
    await page.getByLabel('Problem 1, goal 1, objective 1: status').selectOption('met');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByLabel("Patient's signature").fill('Patient Typed Name');
    await page.getByLabel('Your signature').fill('Counselor Typed Name');
    await page.getByRole('button', { name: 'Sign the plan' }).click();
    main = await page.locator('main').innerText();
    assert.match(main, /Plan in force: version 2/);
    assert.match(main, /for 6 weeks/);
    await page.getByRole('link', { name: 'Version 1' }).click();
    main = await page.locator('main').innerText();
    assert.match(main, /Superseded by version 2/);
    assert.match(main, /for 4 weeks/);
    await page.goto(`${t.base}${patient}/treatment-plan/2/print`);
    assert.match(await page.locator('main').innerText(), /Internal copy — not for disclosure/);
    await page.emulateMedia({ media: 'print' });
    await page.screenshot({ path: `${ARTIFACTS}treatment-plan-print.png`, fullPage: true });
    await page.emulateMedia({ media: 'screen' });

  } finally {
    await t.stop();
  }
});
