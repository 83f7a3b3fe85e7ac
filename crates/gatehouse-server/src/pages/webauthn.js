// The browser's half of a WebAuthn ceremony on the hosted pages: a security key or this
// device creates a credential (enrolment) or signs the server's challenge. The server put
// the options in the form's `data-webauthn-options` and checks everything (challenge,
// origin, relying party, signature, counter); this script only converts between the
// JSON the server speaks and the ArrayBuffers the browser API takes, and posts the
// answer with the form. Loaded from the same origin (the pages' CSP allows only
// `script-src 'self'`); without it the page says so and offers the other factors.
// A passkey sign-in (the login page) may also run in the username field's autofill
// (`data-webauthn-autofill`: conditional mediation), aborted when the button is used.
(function () {
  'use strict';
  var form = document.querySelector('form[data-webauthn]');
  if (!form) return;
  var button = form.querySelector('[data-webauthn-start]');
  var autofill = form.hasAttribute('data-webauthn-autofill');
  var status = document.getElementById('webauthn-status');
  var unsupported = document.getElementById('webauthn-unsupported');
  var answer = form.querySelector('input[name="response"]');
  if ((!button && !autofill) || !status || !answer || !unsupported) return;
  // Shown until this script runs (a `<noscript>` is not shown where scripts are only
  // blocked).
  var needsScript = document.getElementById('webauthn-needs-script');
  if (needsScript) needsScript.hidden = true;
  if (!window.PublicKeyCredential || !navigator.credentials) {
    unsupported.hidden = false;
    return;
  }
  var options;
  try {
    options = JSON.parse(form.getAttribute('data-webauthn-options'));
  } catch (e) {
    unsupported.hidden = false;
    return;
  }

  function fromB64url(s) {
    var b64 = s.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) b64 += '=';
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function ids(list) {
    return (list || []).map(function (c) {
      var copy = Object.assign({}, c);
      copy.id = fromB64url(c.id);
      return copy;
    });
  }

  var create = form.getAttribute('data-webauthn') === 'create';
  var pk = options.publicKey;
  pk.challenge = fromB64url(pk.challenge);
  if (create) {
    pk.user.id = fromB64url(pk.user.id);
    pk.excludeCredentials = ids(pk.excludeCredentials);
  } else {
    pk.allowCredentials = ids(pk.allowCredentials);
  }

  function say(text) {
    status.textContent = text;
  }

  // The autofill's request, while it waits for the user to pick a passkey, and its end
  // (a browser takes one request at a time: the button's waits for the aborted one).
  var conditional = null;
  var conditionalEnded = Promise.resolve();

  function send(cred) {
    var r = cred.response;
    var json = { id: cred.id, rawId: toB64url(cred.rawId), type: cred.type, extensions: {} };
    try {
      json.extensions = cred.getClientExtensionResults();
    } catch (e) { /* not offered by this browser */ }
    if (create) {
      json.response = {
        attestationObject: toB64url(r.attestationObject),
        clientDataJSON: toB64url(r.clientDataJSON)
      };
      if (r.getTransports) json.response.transports = r.getTransports();
    } else {
      json.response = {
        authenticatorData: toB64url(r.authenticatorData),
        clientDataJSON: toB64url(r.clientDataJSON),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null
      };
    }
    answer.value = JSON.stringify(json);
    say('Checking\u2026');
    form.submit();
  }

  function run() {
    if (conditional) {
      conditional.abort();
      conditional = null;
    }
    button.disabled = true;
    say(create ? 'Follow your browser\u2019s instructions to set up your key.' : 'Follow your browser\u2019s instructions.');
    var request = conditionalEnded.then(function () {
      return create ? navigator.credentials.create({ publicKey: pk }) : navigator.credentials.get({ publicKey: pk });
    });
    request.then(send).catch(function (e) {
      button.disabled = false;
      var cancelled = e && (e.name === 'NotAllowedError' || e.name === 'AbortError');
      say(cancelled ? 'That was cancelled or took too long. Try again, or use another way below.'
        : 'Your browser could not use the key (' + (e && e.name ? e.name : 'error') + '). Try again, or use another way below.');
    });
  }

  if (button) {
    button.hidden = false;
    button.addEventListener('click', run);
  }
  if (autofill && !create && window.AbortController && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (!available) return;
      conditional = new AbortController();
      var signal = conditional.signal;
      var waiting = navigator.credentials.get({ publicKey: pk, mediation: 'conditional', signal: signal });
      conditionalEnded = waiting.then(function () {}, function () {});
      waiting.then(function (cred) {
        if (!signal.aborted) send(cred);
      }).catch(function (e) {
        if (!signal.aborted && e && e.name !== 'AbortError') say('Your browser could not use the passkey. Try again.');
      });
    });
  }
})();
