// Every staff page, as a role that may open it, at 1366, 820 and 390 px: no horizontal
// overflow, no card overlapping another, the main menu on one row, no script or style the CSP
// refuses, and axe-core finds no WCAG 2.1 A/AA violation. Screenshots are kept as artefacts.
//
// The pages are the GET routes of crates/web/src/pages/mod.rs; ids come from the demo clinic,
// found by following links the way staff would. One signed-in context per role.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startTrellis, signIn, ARTIFACTS, clinicDay } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const WIDTHS = [1366, 820, 390];
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// The axe script is served from our own origin by the test (a route Playwright answers), so
// the page's CSP (script-src 'self') stays in force and any violation of it is still caught.
async function roleContext(t, role, base = t.base, landing = '/dashboard') {
  const context = await t.browser.newContext({ viewport: { width: WIDTHS[0], height: 900 } });
  await context.route(`${base}/__test/axe.js`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript', body: AXE }),
  );
  const page = await context.newPage();
  const refused = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) refused.push(`${page.url()}: ${msg.text()}`);
  });
  if (role !== 'signed-out') await signIn(page, base, role, landing);
  return { context, page, refused };
}

// Pages that show days as stored, each for a reason: the audit log's details are stored text,
// and a consent's or disclosure's packet (and the authorised disclosure built from it) is the
// document as it left, dates and all.
const STORED_DAYS_LEFT = [
  /^\/admin\/audit/,
  /^\/patients\/\d+\/(consents|disclosures)\/\d+$/,
  /^\/patients\/\d+\/authorised-disclosure/,
  // The auditor reads the packet's own lines, as a disclosure's page shows them.
  /^\/review\/patients\/\d+$/,
];

// The first link on `path` whose href matches `pattern`, or null.
async function firstLink(page, base, path, pattern) {
  await page.goto(`${base}${path}`);
  const hrefs = await page.locator('main a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  return hrefs.find((h) => pattern.test(h)) ?? null;
}

// The first of `paths` holding a link that matches `pattern`.
async function findLink(page, base, paths, pattern) {
  for (const path of paths) {
    const found = await firstLink(page, base, path, pattern);
    if (found) return found;
  }
  return null;
}

async function check(page, base, role, path, problems) {
  const response = await page.goto(`${base}${path}`);
  const status = response ? response.status() : 0;
  if (status >= 400 && !path.startsWith('/no-such') && !path.includes('/abc')) {
    problems.push(`${role} ${path}: answered ${status}`);
  }
  await inspect(page, base, role, path, problems);
}

// The layout, label and axe checks of the page already open (a form's answer, say), named
// `path` in problems and screenshots.
async function inspect(page, base, role, path, problems) {
  const name = `${role}-${path.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}`.slice(0, 120);
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    const layout = await page.evaluate(() => {
      const cards = [...document.querySelectorAll('main .card')];
      let overlaps = 0;
      for (let i = 0; i < cards.length; i++) {
        for (let j = i + 1; j < cards.length; j++) {
          if (cards[i].contains(cards[j]) || cards[j].contains(cards[i])) continue;
          const a = cards[i].getBoundingClientRect();
          const b = cards[j].getBoundingClientRect();
          if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) overlaps++;
        }
      }
      const menu = [...document.querySelectorAll('header.top nav a')].map((a) => a.offsetTop);
      return {
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        overlaps,
        menuRows: new Set(menu).size,
      };
    });
    if (width === WIDTHS[0]) {
      // Codes are for machines: staff read labels ("Absent (unexcused)", not "absent_unexcused").
      const codes = (await page.locator('main').innerText()).match(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/g) ?? [];
      if (codes.length) problems.push(`${role} ${path}: raw codes shown: ${[...new Set(codes)].slice(0, 5).join(', ')}`);
      // Days read as everywhere else ("Nov 27, 2026"), not as stored (2026-11-27); a moment in
      // time keeps its clock time after the date.
      const days = (await page.locator('main').innerText()).match(/\b\d{4}-\d{2}-\d{2}\b(?! \d{2}:\d{2})/g) ?? [];
      if (days.length && !STORED_DAYS_LEFT.some((left) => left.test(path))) problems.push(`${role} ${path}: dates shown as stored: ${[...new Set(days)].slice(0, 3).join(', ')}`);
    }
    if (layout.scrollWidth > layout.innerWidth) {
      problems.push(`${role} ${path} at ${width}px: overflows (${layout.scrollWidth} > ${layout.innerWidth})`);
    }
    if (layout.overlaps > 0) problems.push(`${role} ${path} at ${width}px: ${layout.overlaps} overlapping cards`);
    if (layout.menuRows > 1) problems.push(`${role} ${path} at ${width}px: the main menu wraps onto ${layout.menuRows} rows`);
    await page.screenshot({ path: `${ARTIFACTS}every-page-${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: WIDTHS[0], height: 900 });
  await page.addScriptTag({ url: `${base}/__test/axe.js` });
  const { violations, passed } = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }).then((r) => ({
      violations: r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`),
      passed: r.passes.length,
    })),
    WCAG,
  );
  if (passed === 0) problems.push(`${role} ${path}: axe checked nothing`);
  for (const v of violations) problems.push(`${role} ${path}: axe ${v}`);
}

test('every staff page fits 1366, 820 and 390 px and passes axe-core WCAG 2.1 A/AA', { timeout: 900_000 }, async () => {
  const t = await startTrellis();
  const problems = [];
  const visited = [];
  try {
    // The clinical director: the patient list, every chart tab and the clinical lists.
    const director = await roleContext(t, 'director');
    const d = director.page;
    const patient = await firstLink(d, t.base, '/patients', /^\/patients\/\d+$/);
    assert.ok(patient, 'a patient on the list');
    const episode = (await firstLink(d, t.base, `${patient}/episodes`, /^\/episodes\/\d+\//))?.match(/^\/episodes\/\d+/)?.[0];
    const version = await firstLink(d, t.base, `${patient}/treatment-plan`, /^\/patients\/\d+\/treatment-plan\/\d+$/);
    const program = (await firstLink(d, t.base, '/admin/programs', /^\/programs\/\d+\/phases$/)) ?? '/programs/1/phases';
    const profile = (await firstLink(d, t.base, '/admin/programs', /^\/admin\/programs\/\d+\/public-profile$/)) ?? '/admin/programs/1/public-profile';
    const groupNote = await firstLink(d, t.base, '/group-notes', /^\/group-notes\/\d+$/);
    const session = (await findLink(d, t.base, ['/schedule/day-sheet', '/schedule/my-day'], /^\/schedule\/sessions\/\d+\//))?.match(/^\/schedule\/sessions\/\d+/)?.[0];
    const directorPages = [
      '/dashboard', '/patients', '/patients/new', patient, `${patient}/edit`, `${patient}/episodes`,
      `${patient}/episodes/new`, `${patient}/measures`, `${patient}/measures/new?instrument=phq9`, `${patient}/medications`,
      `${patient}/phase`, `${patient}/schedule`, `${patient}/consents`, `${patient}/disclosures`, `${patient}/notes`, `${patient}/counseling-notes`,
      `${patient}/treatment-plan`, `${patient}/assessment`, `${patient}/emergency-disclosure`, `${patient}/portal-account`, `${patient}/coverage`,
      '/caseload/step-down-review', '/reports/follow-up-outcomes', '/schedule/my-day', '/schedule/day-sheet',
      '/schedule/week', '/schedule/hours', '/schedule/tracks', '/emergency-access', '/group-notes', '/tasks',
      '/admin/plan-reviews', '/admin/programs', program, profile, '/account/mfa', '/account/password', '/account/sessions',
      '/no-such-page', '/patients/abc',
    ];
    if (episode) directorPages.push(`${episode}/level`, `${episode}/discharge`, `${episode}/discharge-summary`);
    // A discharged episode's summary and its print page, found from a discharged patient's episodes.
    await d.goto(`${t.base}/patients`);
    const discharged = await d.locator('main tbody tr', { hasText: 'Discharged' }).locator('a[href^="/patients/"]')
      .evaluateAll((as) => as.map((a) => a.getAttribute('href')).filter((h) => /^\/patients\/\d+$/.test(h)));
    const summaries = [];
    for (const h of discharged.slice(0, 6)) {
      const found = await firstLink(d, t.base, `${h}/episodes`, /^\/episodes\/\d+\/discharge-summary$/);
      if (found) summaries.push(found);
    }
    // The summary page links its print page once a summary is drafted.
    const summary = (await findLink(d, t.base, summaries, /^\/episodes\/\d+\/discharge-summary\/print$/))?.replace(/\/print$/, '');
    if (summary) directorPages.push(summary, `${summary}/print`);
    if (version) directorPages.push(version, `${version}/print`);
    if (groupNote) directorPages.push(groupNote);
    if (session) directorPages.push(`${session}/check-in`, `${session}/check-in?kiosk=1`, `${session}/group-note`);
    for (const path of directorPages) {
      await check(d, t.base, 'director', path, problems);
      visited.push(path);
    }
    // Consents and disclosures: the privacy officer's pages.
    const privacy = await roleContext(t, 'privacy');
    const p = privacy.page;
    await p.goto(`${t.base}/patients`);
    const hrefs = (await p.locator('main a[href]').evaluateAll((as) => as.map((a) => a.getAttribute('href')))).filter((h) => /^\/patients\/\d+$/.test(h));
    const consent = await findLink(p, t.base, hrefs.slice(0, 12).map((h) => `${h}/consents`), /^\/patients\/\d+\/consents\/\d+$/);
    const packet = await findLink(p, t.base, ['/privacy', ...hrefs.slice(0, 12).map((h) => `${h}/disclosures`)], /^\/patients\/\d+\/disclosures\/\d+$/);
    const privacyPages = ['/dashboard', '/privacy', '/admin/audit', '/privacy/restrictions', '/privacy/breaches', '/privacy/breaches/log', '/privacy/authorities', ...(hrefs[0] ? [`${hrefs[0]}/privacy`, `${hrefs[0]}/authorised-disclosure`] : []), ...(consent ? [consent] : []), ...(packet ? [packet] : [])];
    for (const path of privacyPages) {
      await check(p, t.base, 'privacy', path, problems);
      visited.push(path);
    }
    // The administrator's pages.
    const admin = await roleContext(t, 'admin');
    const a = admin.page;
    const user = await firstLink(a, t.base, '/admin/users', /^\/admin\/users\/\d+$/);
    const adminPages = ['/dashboard', '/admin/users', '/admin/role-approvals', '/admin/audit', '/admin/audit?action=read', ...(user ? [user] : [])];
    for (const path of adminPages) {
      await check(a, t.base, 'admin', path, problems);
      visited.push(path);
    }
    // The counselor facilitates the evening group: its tablet check-in and group note pages.
    const counselor = await roleContext(t, 'counselor');
    const c = counselor.page;
    const own = (await firstLink(c, t.base, '/schedule/my-day', /^\/schedule\/sessions\/\d+\/group-note$/))?.match(/^\/schedule\/sessions\/\d+/)?.[0];
    const counselorPages = ['/schedule/my-day', ...(own ? [`${own}/check-in?kiosk=1`, `${own}/group-note`] : [])];
    for (const path of counselorPages) {
      await check(c, t.base, 'counselor', path, problems);
      visited.push(path);
    }
    const signedOut = await roleContext(t, 'signed-out');
    // The sign-in page and the public front door, before anyone is signed in.
    const publicProgram = (await firstLink(signedOut.page, t.base, '/find-a-program', /^\/find-a-program\/\d+$/)) ?? '/find-a-program/1';
    for (const path of ['/login', '/find-a-program', '/find-a-program?zip=19107&when=evening', publicProgram, '/is-iop-right-for-me']) {
      await check(signedOut.page, t.base, 'signed-out', path, problems);
      visited.push(path);
    }
    // The other roles' first pages.
    const others = [counselor, signedOut];
    for (const role of ['counselor', 'frontdesk', 'nurse', 'prescriber', 'intake', 'peer', 'billing']) {
      const r = await roleContext(t, role);
      for (const path of ['/dashboard', '/tasks']) await check(r.page, t.base, role, path, problems);
      if (role === 'frontdesk') await check(r.page, t.base, role, '/schedule/week', problems);
      // Billing's settings and a patient's Coverage tab (billing keeps them, the director reads).
      if (role === 'billing') {
        for (const path of ['/billing/payers', '/billing/providers', `${patient}/coverage`]) {
          await check(r.page, t.base, role, path, problems);
          visited.push(path);
        }
      }
      others.push(r);
    }
    for (const ctx of [director, privacy, admin, ...others]) {
      problems.push(...ctx.refused);
      await ctx.context.close();
    }
    assert.ok(consent, 'a consent to print in the demo');
    assert.ok(session, 'a session on the day sheet or My day');
    if (!own) problems.push("no session of the counselor's own on My day");
    if (!summary) problems.push('no discharge summary found in the demo');
    assert.deepEqual(problems, [], `${visited.length} pages checked; problems:\n${problems.join('\n')}`);
  } finally {
    await t.stop();
  }
});

// The pages added with passkeys, second-factor resets, court orders and disclosure
// authorities, authorised disclosures and breach substitute notices. The demo holds none of
// these records, so each is made first the way staff make it, then its pages are checked.
test('the second-factor and privacy-record pages fit every width and pass axe-core', { timeout: 600_000 }, async () => {
  const t = await startTrellis();
  const problems = [];
  const visited = [];
  const contexts = [];
  const visit = async (ctx, role, path) => {
    await check(ctx.page, ctx.base, role, path, problems);
    visited.push(path);
  };
  try {
    // WebAuthn refuses IP addresses: the passkey pages are opened at localhost.
    const localhost = t.base.replace('127.0.0.1', 'localhost');
    const admin = { ...(await roleContext(t, 'admin', localhost)), base: localhost };
    const counselor = { ...(await roleContext(t, 'counselor', localhost)), base: localhost };
    const privacy = { ...(await roleContext(t, 'privacy')), base: t.base };
    const director = { ...(await roleContext(t, 'director')), base: t.base };
    contexts.push(admin, counselor, privacy, director);

    // Passkeys: the page before any is set up, then with one (a virtual authenticator) set up
    // with the administrator's enrolment code.
    await visit(director, 'director', '/account/passkeys');
    const a = admin.page;
    const user = await firstLink(a, localhost, '/admin/users', /^\/admin\/users\/\d+$/);
    await a.goto(`${localhost}/admin/users`);
    const counselorUser = await a.getByRole('link', { name: 'Jordan Ellis, LCSW' }).getAttribute('href');
    await a.goto(`${localhost}${counselorUser}`);
    await a.getByRole('button', { name: 'Request enrolment code' }).click();
    await inspect(a, localhost, 'admin', `${counselorUser} (enrolment code requested)`, problems);
    // A counselor's code takes two people: the privacy officer approves and is shown it.
    const pc = privacy.page;
    await pc.goto(`${t.base}/admin/role-approvals`);
    await inspect(pc, t.base, 'privacy', '/admin/role-approvals (enrolment code waiting)', problems);
    await pc.getByRole('row').filter({ hasText: 'Issue an enrolment code' }).getByRole('button', { name: 'Approve' }).click();
    const code = (await pc.locator('code.enrolment-code').innerText()).trim();
    await inspect(pc, t.base, 'privacy', '/admin/role-approvals (enrolment code issued)', problems);
    const c = counselor.page;
    const cdp = await counselor.context.newCDPSession(c);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    await c.goto(`${localhost}/account/passkeys`);
    await c.getByLabel(/^Name/).fill('work laptop');
    await c.getByLabel(/^Enrolment code/).fill(code);
    await c.getByRole('button', { name: 'Set up a passkey' }).click();
    await c.waitForURL(`${localhost}/account/passkeys?added=1`);
    await inspect(c, localhost, 'counselor', '/account/passkeys?added=1', problems);
    await visit(counselor, 'counselor', '/account/passkeys');

    // The second-factor reset takes two people: the administrator asks on the account page,
    // the privacy officer approves on Role approvals.
    await visit(admin, 'admin', counselorUser);
    await a.getByRole('button', { name: 'Request removal of two-step verification' }).click();
    await assert.doesNotReject(a.getByText(/Removal of two-step verification requested/).waitFor());
    await inspect(a, localhost, 'admin', `${counselorUser} (removal requested)`, problems);
    const pr = privacy.page;
    await pr.goto(`${t.base}/admin/role-approvals`);
    await inspect(pr, t.base, 'privacy', '/admin/role-approvals (removal waiting)', problems);
    const waiting = pr.getByRole('row').filter({ hasText: 'Remove two-step verification' });
    await waiting.getByRole('button', { name: 'Approve' }).click();
    await assert.doesNotReject(pr.getByText(/authenticator app and passkeys are removed/).waitFor());
    await inspect(pr, t.base, 'privacy', '/admin/role-approvals (removal approved)', problems);
    await visit(admin, 'admin', counselorUser);
    if (user) await visit(admin, 'admin', user);

    // Court orders and disclosure authorities under /privacy, and an authorised disclosure.
    const p = privacy.page;
    const main = p.getByRole('main');
    const patient = await firstLink(p, t.base, '/patients', /^\/patients\/\d+$/);
    assert.ok(patient, 'a patient on the list');
    const mrn = `TR${patient.split('/').pop().padStart(6, '0')}`;
    const today = clinicDay();
    await p.goto(`${t.base}/privacy/authorities`);
    const order = main.locator('form', { has: p.getByRole('button', { name: 'Record the court order' }) });
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
    await assert.doesNotReject(p.locator('#live').getByText(/Court order .* recorded/).waitFor());
    await inspect(p, t.base, 'privacy', '/privacy/authorities (court order recorded)', problems);
    const authority = await firstLink(p, t.base, '/privacy/authorities', /^\/privacy\/authorities\/\d+$/);
    assert.ok(authority, 'the recorded court order is listed');
    await visit(privacy, 'privacy', '/privacy/authorities');
    await visit(privacy, 'privacy', authority);
    await visit(privacy, 'privacy', `${patient}/authorised-disclosure`);
    await main.getByRole('radio', { name: /Court order/ }).check();
    await main.getByRole('checkbox', { name: 'Attendance and participation' }).check();
    await main.getByRole('button', { name: 'Disclose' }).click();
    await assert.doesNotReject(main.locator('#consent-scope').waitFor());
    await inspect(p, t.base, 'privacy', `${patient}/authorised-disclosure (packet)`, problems);
    await visit(privacy, 'privacy', '/privacy/recipients');

    // The auditor's pages (§2.53): an agreement, an auditor bound to it, approved, signed in.
    await p.goto(`${t.base}/privacy/authorities`);
    const agreementForm = main.locator('form', { has: p.getByRole('button', { name: 'Record the agreement' }) });
    await agreementForm.getByLabel('Kind').selectOption('audit_evaluation');
    await agreementForm.getByLabel(/With whom/).selectOption({ index: 1 });
    await agreementForm.getByLabel('Signed on').fill(today);
    await agreementForm.getByLabel('From', { exact: true }).fill(today);
    // Until tomorrow: the auditor's sign-in judges an agreement ended by UTC's day, which in a
    // New York evening is already tomorrow.
    await agreementForm.getByLabel('Until', { exact: true }).fill(clinicDay(1));
    await agreementForm.getByLabel('Attendance and participation').check();
    await agreementForm.getByLabel('On behalf of').selectOption('payer');
    await agreementForm.getByLabel("That body's name").fill('Valley Health Plan');
    await agreementForm.getByLabel('What the audit or evaluation covers').fill('Claims audit');
    await agreementForm.getByLabel(/The agreement is signed/).check();
    await agreementForm.getByRole('button', { name: 'Record the agreement' }).click();
    await assert.doesNotReject(p.locator('#live').getByText(/recorded/).waitFor());
    const agreementId = p.url().replace(/\?.*$/, '').match(/(\d+)$/)[1];
    await a.goto(`${localhost}/admin/users`);
    const addForm = a.getByRole('main').locator('form', { has: a.getByRole('button', { name: 'Create account' }) });
    await addForm.getByLabel(/Username/).fill('auditor');
    await addForm.getByLabel('Full name').fill('Avery Auditor');
    await addForm.getByLabel('Role').selectOption('auditor');
    await addForm.getByLabel(/Agreement number/).fill(agreementId);
    await addForm.getByLabel(/Initial password/).fill('trellis-demo-2026');
    await addForm.getByRole('button', { name: 'Create account' }).click();
    await a.waitForURL(/\/admin\/users\/\d+$/);
    await p.goto(`${t.base}/admin/role-approvals`);
    await main.locator('tr', { hasText: 'Avery Auditor' }).getByRole('button', { name: 'Approve' }).click();
    const auditor = { ...(await roleContext(t, 'auditor', t.base, '/review')), base: t.base };
    contexts.push(auditor);
    await visit(auditor, 'auditor', '/review');
    const reviewed = await firstLink(auditor.page, t.base, '/review', /^\/review\/patients\/\d+$/);
    assert.ok(reviewed, 'the auditor has patients to review');
    await visit(auditor, 'auditor', reviewed);
    await visit(privacy, 'privacy', `/privacy/authorities/${agreementId}`);
    await visit(director, 'director', '/privacy/minor-consent');

    // A breach with its letter and a substitute notice for the patient the letter cannot reach.
    await p.goto(`${t.base}/privacy/breaches`);
    const form = main.locator('form', { has: p.getByRole('button', { name: 'Record incident' }) });
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
    await assert.doesNotReject(p.locator('#live').getByText(/a task is due on its 60th day/).waitFor());
    for (const factor of [/Nature and extent/, /unauthorized person/, /actually acquired/, /risk was mitigated/]) {
      await main.getByRole('group', { name: factor }).getByLabel('Not low').check();
    }
    await main.getByLabel(/Why each factor weighs/).fill('A stranger received names; not retrieved for a day');
    await main.getByRole('group', { name: 'Conclusion' }).getByLabel(/Breach: notify/).check();
    await main.getByRole('button', { name: 'Record assessment' }).click();
    await assert.doesNotReject(p.locator('#live').getByText(/Assessment recorded/).waitFor());
    const incident = p.url().replace(t.base, '').replace(/[?#].*$/, '');
    const letter = await firstLink(p, t.base, incident, /^\/privacy\/breaches\/\d+\/letters\/\d+$/);
    assert.ok(letter, 'the incident links its letter');
    await visit(privacy, 'privacy', letter);
    await p.goto(`${t.base}${incident}`);
    const substitute = main.locator('form[action$="/substitute-notices"]');
    await substitute.getByLabel(/could not reach/).fill('1');
    await substitute.locator('input[name="patient_ids"]').first().check();
    await substitute.locator('input[name="method"]').first().check();
    await substitute.getByLabel(/Where it was posted/).fill('Telephoned the patient and read the notice');
    await substitute.getByRole('button', { name: 'Record substitute notice' }).click();
    await assert.doesNotReject(main.getByText(/Every patient has been told, by letter or substitute notice/).waitFor());
    await inspect(p, t.base, 'privacy', `${incident} (substitute notice recorded)`, problems);
    await visit(privacy, 'privacy', incident);
    await visit(privacy, 'privacy', '/privacy/breaches');
    await visit(privacy, 'privacy', '/privacy/breaches/log');

    for (const ctx of contexts) problems.push(...ctx.refused);
    assert.deepEqual(problems, [], `${visited.length} pages checked; problems:\n${problems.join('\n')}`);
  } finally {
    for (const ctx of contexts) await ctx.context.close();
    await t.stop();
  }
});

test('a bad id and an unknown page answer a friendly HTML page under the CSP; the API keeps JSON', async () => {
  const t = await startTrellis();
  try {
    const { context, page, refused } = await roleContext(t, 'director');
    const bad = await page.goto(`${t.base}/patients/abc`);
    assert.equal(bad.status(), 400);
    assert.match(bad.headers()['content-type'], /text\/html/);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'That link is not valid');
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0);
    const missing = await page.goto(`${t.base}/no-such-page`);
    assert.equal(missing.status(), 404);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Not found');
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.waitForURL(`${t.base}/dashboard`);
    const api = await page.request.get(`${t.base}/api/v1/patients/abc`);
    assert.match(api.headers()['content-type'], /application\/json/);
    assert.deepEqual(refused, []);
    await context.close();
  } finally {
    await t.stop();
  }
});

test('the header search finds a patient by name without putting the name in the address', async () => {
  const t = await startTrellis();
  try {
    const { context, page } = await roleContext(t, 'frontdesk');
    await page.goto(`${t.base}/patients`);
    const first = page.locator('main tbody tr a[href^="/patients/"]').first();
    const name = (await first.innerText()).trim();
    const last = name.split(/[ ,]+/).filter(Boolean)[0];
    await page.goto(`${t.base}/schedule/week`);
    const search = page.getByRole('search', { name: 'Patients' });
    await search.getByLabel('Find a patient').fill(last);
    await search.getByRole('button', { name: 'Find' }).click();
    await page.waitForURL(`${t.base}/patients/search`);
    assert.ok(!page.url().toLowerCase().includes(last.toLowerCase()), 'no name in the URL');
    assert.match(await page.locator('main').innerText(), /\d+ patients? found/);
    assert.ok((await page.locator('main tbody tr').count()) >= 1);
    await page.screenshot({ path: `${ARTIFACTS}header-search-result.png`, fullPage: true });
    await context.close();
  } finally {
    await t.stop();
  }
});
