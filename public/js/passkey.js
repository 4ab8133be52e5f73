// Passkeys: adding one on the account page, using one on the re-authentication page.
// Needs /vendor/simplewebauthn/index.umd.min.js (SimpleWebAuthnBrowser) loaded before it.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;

  function csrf() {
    var input = document.querySelector('input[name="_csrf"]');
    return input ? input.value : '';
  }

  function say(box, text) {
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }

  function getJson(url) {
    return fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin', redirect: 'manual' }).then(function (r) {
      if (!r.ok) throw Object.assign(new Error('options'), { status: r.status || 403 });
      return r.json();
    });
  }

  function postJson(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf() },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return { ok: r.ok, json: j }; });
    });
  }

  function setUp(root) {
    var error = root.querySelector('.passkey-error');
    var button = root.querySelector('button[data-passkey]');
    if (!button) return;
    if (!lib || !lib.browserSupportsWebAuthn()) { say(error, root.getAttribute('data-unsupported')); button.disabled = true; return; }
    root.hidden = false;
    var mode = button.getAttribute('data-passkey');
    button.addEventListener('click', function () {
      button.disabled = true;
      if (error) error.hidden = true;
      var done = mode === 'register'
        ? getJson('/account/passkeys/options').then(function (options) {
          return lib.startRegistration({ optionsJSON: options });
        }).then(function (response) {
          var name = root.querySelector('input[name="passkeyName"]');
          return postJson('/account/passkeys', { name: name ? name.value : '', response: response });
        })
        : getJson('/reauth/passkey/options').then(function (options) {
          return lib.startAuthentication({ optionsJSON: options });
        }).then(function (response) {
          var next = document.querySelector('input[name="next"]');
          return postJson('/reauth/passkey', { response: response, next: next ? next.value : undefined });
        });
      done.then(function (result) {
        if (result.ok && result.json.redirect) { window.location.assign(result.json.redirect); return; }
        say(error, (result.json.error && result.json.error.message) || root.getAttribute('data-failed'));
        button.disabled = false;
      }, function (err) {
        // Adding one needs a live re-authentication first: go there and come back.
        if (mode === 'register' && err && err.status) { window.location.assign('/reauth?next=/account'); return; }
        say(error, root.getAttribute('data-failed'));
        button.disabled = false;
      });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    Array.prototype.forEach.call(document.querySelectorAll('[data-passkey-box]'), setUp);
  });
})();
