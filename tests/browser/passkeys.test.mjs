// Passkeys as a second factor (issue 11 item 2) with Chromium's virtual authenticator (CDP
// WebAuthn domain): a counselor sets one up with an enrolment code that takes two people (the
// administrator requests it, the privacy officer approves and is shown it), signs in with
// password then passkey, is shown the changes to their account and their sessions, and an
// answer sent a second time is refused. WebAuthn refuses IP
// addresses, so the pages are opened at localhost (the relying party without a public URL).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTrellis, PASSWORD, ARTIFACTS } from './harness.mjs';

async function passwordStep(page, base, username) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('a counselor sets up a passkey and signs in with password then passkey', async () => {
  const t = await startTrellis();
  try {
    const base = t.base.replace('127.0.0.1', 'localhost');

    // The administrator requests a one-time enrolment code for the counselor's first factor;
    // it is not shown to them. The privacy officer approves it and is the one shown the code.
    const admin = await t.browser.newPage();
    await passwordStep(admin, base, 'admin');
    await admin.waitForURL(`${base}/dashboard`);
    await admin.goto(`${base}/admin/users`);
    await admin.getByRole('link', { name: 'Jordan Ellis, LCSW' }).click();
    await admin.getByRole('button', { name: 'Request enrolment code' }).click();
    await assert.doesNotReject(admin.getByText(/Enrolment code requested/).first().waitFor());
    assert.equal(await admin.locator('code.enrolment-code').count(), 0, 'the requester never sees the code');
    const privacy = await (await t.browser.newContext()).newPage();
    await passwordStep(privacy, base, 'privacy');
    await privacy.waitForURL(`${base}/dashboard`);
    await privacy.goto(`${base}/admin/role-approvals`);
    const waiting = privacy.getByRole('row').filter({ hasText: 'Issue an enrolment code' });
    await waiting.getByRole('button', { name: 'Approve' }).click();
    const code = (await privacy.locator('code.enrolment-code').innerText()).trim();
    assert.match(code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);

    const context = await t.browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
      },
    });

    // The issued code is a change to the counselor's account: the sign-in shows it first.
    await passwordStep(page, base, 'counselor');
    await page.waitForURL(`${base}/account/sessions`);
    assert.match(await page.locator('#notices').innerText(), /An enrolment code for setting up two-step verification was issued/);
    await page.goto(`${base}/account/passkeys`);
    await page.getByLabel(/^Name/).fill('work laptop');
    await page.getByLabel(/^Enrolment code/).fill(code);
    await page.getByRole('button', { name: 'Set up a passkey' }).click();
    await page.waitForURL(`${base}/account/passkeys?added=1`);
    assert.match(await page.getByRole('status').innerText(), /Your passkey is set up/);
    assert.match(await page.getByRole('table').innerText(), /work laptop/);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1, 'the authenticator holds the new passkey');
    await page.screenshot({ path: `${ARTIFACTS}passkeys.png`, fullPage: true });

    // Password then passkey. The answer the page sends is kept to be replayed below.
    let answer = null;
    await page.route('**/login/passkey/finish', async (route) => {
      answer = route.request().postData();
      await route.continue();
    });
    await context.clearCookies();
    await passwordStep(page, base, 'counselor');
    await page.waitForURL(`${base}/login/mfa`);
    await page.getByRole('button', { name: 'Use your passkey' }).click();
    // The first sign-in after the changes shows them, and where the account is signed in.
    await page.waitForURL(`${base}/account/sessions`);
    assert.ok(answer, 'the passkey answer was sent');
    const notices = await page.locator('#notices').innerText();
    assert.match(notices, /Two-step verification was set up/);
    assert.match(notices, /An enrolment code for setting up two-step verification was issued/);
    assert.match(await page.locator('#sessions').innerText(), /this session/);
    await page.screenshot({ path: `${ARTIFACTS}account-sessions.png`, fullPage: true });
    await page.getByRole('button', { name: 'I have seen these changes' }).click();
    await assert.doesNotReject(page.getByRole('status').getByText('Acknowledged.').waitFor());
    // A second browser signs in; the first one signs it out after giving the password again.
    const other = await (await t.browser.newContext()).newPage();
    await passwordStep(other, base, 'counselor');
    await other.waitForURL(`${base}/login/mfa`);
    await page.goto(`${base}/account/sessions`);
    assert.match(await page.locator('#sessions').innerText(), /at the second step/);
    await page.getByLabel('Every session except this one').check();
    await page.getByLabel('Your password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign out the chosen session' }).click();
    await assert.doesNotReject(page.getByRole('status').getByText(/Signed out of [1-9]\d* other session\(s\)\./).waitFor());
    await other.goto(`${base}/login/mfa`);
    await other.waitForURL(`${base}/login`);

    // The same answer, sent again from a new half-signed-in session, is refused.
    await context.clearCookies();
    await passwordStep(page, base, 'counselor');
    await page.waitForURL(`${base}/login/mfa`);
    const replay = await page.evaluate(async (body) => {
      const form = document.querySelector('form[data-passkey]');
      const res = await fetch('/login/passkey/finish', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': form.dataset.csrf },
        body,
      });
      return { status: res.status, json: await res.json() };
    }, answer);
    assert.equal(replay.status, 422);
    assert.match(replay.json.message, /not accepted/);
    // The passkey itself still signs in (a fresh challenge, a higher counter).
    await page.getByRole('button', { name: 'Use your passkey' }).click();
    await page.waitForURL(`${base}/dashboard`);
    const { credentials: after } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.ok(after[0].signCount >= 2, `the counter rose to ${after[0].signCount}`);
  } finally {
    await t.stop();
  }
});
