// Live feedback on the password rules of the hosted sign-up and reset pages. Optional:
// the server checks every rule again, and the pages work without it. Loaded from the
// same origin (the pages' CSP allows only `script-src 'self'`).
(function () {
  'use strict';
  var input = document.querySelector('input[data-password-rules]');
  var list = document.getElementById('password-rules');
  var status = document.getElementById('password-rules-status');
  if (!input || !list || !status) return;
  var policy;
  try {
    policy = JSON.parse(input.getAttribute('data-password-rules'));
  } catch (e) {
    return;
  }
  var classes = {
    lowerCase: /[a-z]/,
    upperCase: /[A-Z]/,
    numbers: /[0-9]/,
    specialCharacters: /[ !"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/
  };
  function evaluate(pw) {
    var r = { nonEmpty: pw.length > 0, lengthAtLeast: pw.length >= policy.min_length };
    var met = 0;
    Object.keys(classes).forEach(function (k) {
      r[k] = classes[k].test(pw);
      if (r[k]) met += 1;
    });
    r.shouldContain = r.lowerCase && r.upperCase && r.numbers;
    r.containsAtLeast = pw.length > 0 && met >= 3;
    r.identicalChars = pw.length > 0 && !/(.)\1\1/.test(pw);
    return r;
  }
  function update() {
    var r = evaluate(input.value);
    // The server's marks of a refused password no longer apply once typing starts.
    Array.prototype.forEach.call(list.querySelectorAll('span.said'), function (s) {
      s.parentNode.removeChild(s);
    });
    var unmet = 0;
    Array.prototype.forEach.call(list.querySelectorAll('li[data-code]'), function (li) {
      var ok = !!r[li.getAttribute('data-code')];
      li.className = ok ? 'met' : 'unmet';
      if (!ok && li.parentNode === list) unmet += 1;
    });
    status.textContent = unmet === 0 ? 'The password meets every rule.' : unmet + ' password rule(s) not met yet.';
  }
  input.addEventListener('input', update);
})();
