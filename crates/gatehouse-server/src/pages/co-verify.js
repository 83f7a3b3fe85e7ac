// /co/verify: asks the application's cross_origin_loc page (auth0.js
// crossOriginVerification) for the co_verifier of the login ticket, then posts it.
(() => {
  const form = document.getElementById('co-verify');
  const frame = document.getElementById('co-verify-frame');
  if (!form || !frame) return;
  const target = form.dataset.locOrigin;
  let sent = false;
  window.addEventListener('message', (event) => {
    if (event.origin !== target || !event.data || sent) return;
    if (event.data.type === 'ready') {
      frame.contentWindow.postMessage({ type: 'co_verifier_request', request: { id: form.dataset.coId } }, target);
    } else if (event.data.type === 'co_verifier_response') {
      sent = true;
      form.elements.verifier.value = (event.data.response && event.data.response.verifier) || '';
      form.submit();
    }
  });
})();
