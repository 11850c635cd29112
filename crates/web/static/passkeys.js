// Passkey set-up and sign-in (WebAuthn). The server makes each challenge and checks each answer;
// this file only carries them between the page and the browser's navigator.credentials, turning
// the base64url fields of the JSON into the byte arrays the browser wants and back.
(function () {
  'use strict';

  function toBytes(text) {
    var base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    while (base64.length % 4) base64 += '=';
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = '';
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function post(form, url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': form.dataset.csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { ok: response.ok, json: json };
      });
    });
  }

  function say(form, message) {
    var box = form.querySelector('[data-passkey-message]');
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  function finish(form, result) {
    if (result.json.redirect) {
      window.location.assign(result.json.redirect);
    } else {
      say(form, result.json.message || 'Something went wrong; try again.');
    }
  }

  function setUp(form) {
    var name = form.querySelector('[name=name]');
    var code = form.querySelector('[name=enrolment_code]');
    var fields = { name: name ? name.value : '' };
    return post(form, '/account/passkeys/set-up/start', fields).then(function (started) {
      if (!started.ok) return finish(form, started);
      var options = started.json.publicKey;
      options.challenge = toBytes(options.challenge);
      options.user.id = toBytes(options.user.id);
      (options.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
      return navigator.credentials.create({ publicKey: options }).then(function (made) {
        return post(form, '/account/passkeys/set-up/finish', {
          name: fields.name,
          enrolment_code: code ? code.value : '',
          credential: {
            id: made.id,
            rawId: toText(made.rawId),
            type: made.type,
            response: {
              attestationObject: toText(made.response.attestationObject),
              clientDataJSON: toText(made.response.clientDataJSON)
            },
            extensions: made.getClientExtensionResults()
          }
        });
      }).then(function (done) { finish(form, done); });
    });
  }

  function signIn(form) {
    return post(form, '/login/passkey/start', {}).then(function (started) {
      if (!started.ok) return finish(form, started);
      var options = started.json.publicKey;
      options.challenge = toBytes(options.challenge);
      (options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
      return navigator.credentials.get({ publicKey: options }).then(function (got) {
        var response = got.response;
        return post(form, '/login/passkey/finish', {
          credential: {
            id: got.id,
            rawId: toText(got.rawId),
            type: got.type,
            response: {
              authenticatorData: toText(response.authenticatorData),
              clientDataJSON: toText(response.clientDataJSON),
              signature: toText(response.signature),
              userHandle: response.userHandle ? toText(response.userHandle) : null
            },
            extensions: got.getClientExtensionResults()
          }
        });
      }).then(function (done) { finish(form, done); });
    });
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    var kind = form.dataset && form.dataset.passkey;
    if (kind !== 'set-up' && kind !== 'sign-in') return;
    event.preventDefault();
    if (!window.PublicKeyCredential) {
      say(form, 'This browser cannot use passkeys.');
      return;
    }
    var button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    (kind === 'set-up' ? setUp(form) : signIn(form)).catch(function (error) {
      say(form, 'The passkey was not used (' + (error && error.name ? error.name : 'error') + '). Try again.');
    }).then(function () {
      if (button) button.disabled = false;
    });
  });

  document.querySelectorAll('form[data-passkey]').forEach(function (form) {
    var note = form.querySelector('[data-passkey-needs-script]');
    if (note) note.hidden = true;
    var button = form.querySelector('button[type=submit]');
    if (button) button.disabled = false;
  });
})();
