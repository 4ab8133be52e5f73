// Uploads with a progress bar per file, and drag and drop. Without this script the form still posts normally.
(function () {
  'use strict';

  /** The anchor a page reloaded by goTo opens at (sessionStorage outlives the reload; a reload alone keeps the old scroll place). */
  var RELOADED_AT = 'akatsuki.reloadedAt';
  /** Set while goTo reloads the page: its own reload keeps the browser's places off. */
  var reloadingAtAnchor = false;

  function atAnchor() {
    var hash = null;
    try { hash = window.sessionStorage.getItem(RELOADED_AT); window.sessionStorage.removeItem(RELOADED_AT); } catch (err) { return; }
    if (hash === null) return;
    var el = hash && hash === window.location.hash ? document.getElementById(decodeURIComponent(hash.slice(1))) : null;
    if (el) el.scrollIntoView();
    // Again once loaded (images and fonts move things). The browser restores places again only once the page is
    // left: turned back on earlier, it would still put this reload at the place the page had before it.
    window.addEventListener('load', function () { if (el) el.scrollIntoView(); });
    window.addEventListener('pagehide', function () {
      if (!reloadingAtAnchor && 'scrollRestoration' in window.history) window.history.scrollRestoration = 'auto';
    });
  }

  function formatSize(n) {
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
    if (n < 1024 * 1024 * 1024) return (n / 1024 / 1024).toFixed(1) + ' MB';
    return (n / 1024 / 1024 / 1024).toFixed(2) + ' GB';
  }

  /** Posts the form's data as the page would, with its token in a header; calls back with upload progress and the answer. */
  function post(form, data, accept, handlers) {
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('Accept', accept);
    var token = form.querySelector('input[name="_csrf"]');
    if (token) xhr.setRequestHeader('X-CSRF-Token', token.value);
    xhr.upload.addEventListener('progress', handlers.progress);
    xhr.addEventListener('load', function () { handlers.load(xhr); });
    xhr.addEventListener('error', handlers.error);
    xhr.addEventListener('abort', handlers.error);
    xhr.send(data);
  }

  function setup(form) {
    var input = form.querySelector('[data-file-input]');
    var list = form.querySelector('[data-upload-list]');
    var zone = form.querySelector('[data-drop-zone]');
    var errorBox = form.querySelector('[data-upload-error]');
    var button = form.querySelector('button[type="submit"]');
    var bars = [];

    function render() {
      list.textContent = '';
      bars = [];
      Array.prototype.forEach.call(input.files, function (file) {
        var li = document.createElement('li');
        var name = document.createElement('span');
        name.className = 'upload-name';
        name.textContent = file.name + ' (' + formatSize(file.size) + ')';
        var bar = document.createElement('progress');
        bar.max = 100;
        bar.value = 0;
        bar.setAttribute('aria-label', file.name);
        var state = document.createElement('span');
        state.className = 'upload-state';
        li.appendChild(name);
        li.appendChild(bar);
        li.appendChild(state);
        list.appendChild(li);
        bars.push({ file: file, bar: bar, state: state });
      });
    }

    input.addEventListener('change', render);

    if (zone && window.DataTransfer) {
      ['dragenter', 'dragover'].forEach(function (type) {
        zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add('dragging'); });
      });
      ['dragleave', 'drop'].forEach(function (type) {
        zone.addEventListener(type, function () { zone.classList.remove('dragging'); });
      });
      zone.addEventListener('drop', function (e) {
        e.preventDefault();
        var merged = new DataTransfer();
        Array.prototype.forEach.call(input.files, function (f) { merged.items.add(f); });
        Array.prototype.forEach.call(e.dataTransfer.files, function (f) { merged.items.add(f); });
        input.files = merged.files;
        render();
      });
    }

    form.addEventListener('submit', function (e) {
      if (!window.FormData || !window.XMLHttpRequest || !input.files.length) return;
      e.preventDefault();
      errorBox.hidden = true;
      // The reasons of an earlier refusal no longer stand: this answer brings its own.
      Array.prototype.forEach.call(form.querySelectorAll('.field-error'), function (el) { el.hidden = true; });
      if (!bars.length) render();
      // Fields first, files last: the server decides where the files go before it reads them.
      var data = new FormData();
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.disabled || el.type === 'file' || el.type === 'submit') return;
        if ((el.type === 'checkbox' || el.type === 'radio') && !el.checked) return;
        data.append(el.name, el.value);
      });
      Array.prototype.forEach.call(input.files, function (f) { data.append('files', f, f.name); });

      button.disabled = true;
      post(form, data, 'application/json', {
        progress: function (ev) {
          // One request carries every file in order; each bar shows its own share of the bytes sent.
          var offset = 0;
          bars.forEach(function (b) {
            var done = Math.max(0, Math.min(b.file.size, ev.loaded - offset));
            b.bar.value = b.file.size ? Math.round((done / b.file.size) * 100) : (ev.loaded >= offset ? 100 : 0);
            offset += b.file.size;
          });
        },
        load: function (xhr) {
          var body = null;
          try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
          if (xhr.status >= 200 && xhr.status < 300 && body && body.ok) {
            bars.forEach(function (b) { b.bar.value = 100; b.state.textContent = form.getAttribute('data-done-label') || '✓'; });
            goTo(body.redirect || '/files');
            return;
          }
          fail(body && body.error ? body.error.message : null, xhr.status === 401 ? body && body.error && body.error.code : null);
        },
        error: function () { fail(null); },
      });
    });

    // Where the answer leads. This very page at another anchor (じぶんで登録: back to the person's card) would
    // only scroll: it is loaded anew, and opened at that anchor (a reload keeps the old place: see atAnchor).
    function goTo(target) {
      var to = new URL(target, window.location.href);
      if (to.pathname !== window.location.pathname || to.search !== window.location.search) { window.location.assign(to.href); return; }
      window.history.replaceState(null, '', to.href);
      try { window.sessionStorage.setItem(RELOADED_AT, to.hash); } catch (err) { /* no storage: the page opens where it was */ }
      if ('scrollRestoration' in window.history) window.history.scrollRestoration = 'manual';
      reloadingAtAnchor = true;
      window.location.reload();
    }

    // signedOut: the error code of a 401 (the session ended meanwhile): the way back is a sign-in that returns here.
    function fail(message, signedOut) {
      button.disabled = false;
      bars.forEach(function (b) { b.bar.value = 0; });
      errorBox.textContent = message || form.getAttribute('data-error-label') || 'Upload failed';
      if (signedOut) {
        var link = document.createElement('a');
        link.href = '/login?next=' + encodeURIComponent(location.pathname + location.search) + (signedOut === 'auth.reason.expired' ? '&reason=expired' : '');
        link.textContent = form.getAttribute('data-login-label') || 'Sign in';
        errorBox.appendChild(document.createTextNode(' '));
        errorBox.appendChild(link);
      }
      errorBox.hidden = false;
    }
  }

  // A form whose answer is a page (an import's report, a certificate's check): the file is sent with
  // a progress bar, and the page that comes back replaces this one, as a plain post would show it.
  function setupPage(form) {
    var input = form.querySelector('input[type="file"]');
    var button = form.querySelector('button[type="submit"]');
    var bar = document.createElement('progress');
    bar.max = 100;
    bar.value = 0;
    bar.hidden = true;
    bar.className = 'upload-progress';
    bar.setAttribute('aria-label', form.getAttribute('data-progress-label') || '');
    var errorBox = document.createElement('p');
    errorBox.className = 'form-error';
    errorBox.setAttribute('role', 'alert');
    errorBox.hidden = true;
    button.parentNode.insertBefore(bar, button.nextSibling);
    bar.parentNode.insertBefore(errorBox, bar.nextSibling);

    function failed() {
      button.disabled = false;
      bar.hidden = true;
      errorBox.textContent = form.getAttribute('data-error-label') || 'Upload failed';
      errorBox.hidden = false;
    }

    form.addEventListener('submit', function (e) {
      if (!window.FormData || !window.XMLHttpRequest || !input || !input.files.length) return;
      e.preventDefault();
      errorBox.hidden = true;
      bar.value = 0;
      bar.hidden = false;
      button.disabled = true;
      post(form, new FormData(form), 'text/html', {
        progress: function (ev) {
          if (ev.lengthComputable) bar.value = Math.round((ev.loaded / ev.total) * 100);
        },
        load: function (xhr) {
          // The answer is the whole page (the report, or the form again with why): shown in place of this one.
          // Anything else (a proxy's error, say) is not shown as a page: the form stays, saying it was not sent.
          if (!/^text\/html/.test(xhr.getResponseHeader('Content-Type') || '')) { failed(); return; }
          document.open();
          document.write(xhr.responseText);
          document.close();
        },
        error: failed,
      });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    atAnchor();
    Array.prototype.forEach.call(document.querySelectorAll('form[data-upload]'), setup);
    Array.prototype.forEach.call(document.querySelectorAll('form[data-upload-page]'), setupPage);
    document.addEventListener('click', function (e) {
      var el = e.target.closest ? e.target.closest('[data-confirm]') : null;
      if (el && !window.confirm(el.getAttribute('data-confirm'))) e.preventDefault();
    });
  });
})();
