// Progressive enhancements only; every page works without this file.
(function () {
  'use strict';

  // Re-authentication countdown: the banner carries the end time; show minutes:seconds left.
  function startReauthTimer(banner) {
    var until = Number(banner.getAttribute('data-reauth-until'));
    var out = banner.querySelector('.reauth-left');
    if (!until || !out) return;
    function tick() {
      var left = Math.max(0, Math.round((until - Date.now()) / 1000));
      out.textContent = Math.floor(left / 60) + ':' + String(left % 60).padStart(2, '0');
      if (left === 0) { banner.hidden = true; return; }
      setTimeout(tick, 1000);
    }
    tick();
  }

  // A revealed My Number: count down, then remove the digits from the page (not merely hide them).
  function startRevealTimer(box) {
    var left = Number(box.getAttribute('data-hide-after')) || 60;
    var out = box.querySelector('.reveal-left');
    var gone = document.querySelector('.revealed-gone');
    var until = Date.now() + left * 1000;
    function tick() {
      var s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      if (out) out.textContent = String(s);
      if (s === 0) {
        box.parentNode.removeChild(box);
        if (gone) gone.hidden = false;
        return;
      }
      setTimeout(tick, 250);
    }
    tick();
  }

  // A form that must not go twice (a number, a dependant, a link's one use): once it is on its way, its
  // button takes no second tap — on a slow phone the page stays for seconds and people tap again, and
  // the browser would send the form again and show the second answer. The upload script sends a form
  // with files itself (and keeps its button off meanwhile); this is for the form sent as a page.
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (e.defaultPrevented || !form.matches || !form.matches('form[data-submit-once], form[data-upload]')) return;
    // After this event: the browser reads the form once the event is done.
    setTimeout(function () {
      Array.prototype.forEach.call(form.querySelectorAll('button[type=submit], button:not([type])'), function (b) { b.disabled = true; });
    }, 0);
  });
  // A page brought back from the history as it was left: its buttons work again.
  window.addEventListener('pageshow', function (e) {
    if (!e.persisted) return;
    Array.prototype.forEach.call(document.querySelectorAll('form[data-submit-once] button, form[data-upload] button'), function (b) { b.disabled = false; });
  });

  document.addEventListener('DOMContentLoaded', function () {
    var banner = document.querySelector('[data-reauth-until]');
    if (banner) startReauthTimer(banner);
    var revealed = document.querySelector('[data-hide-after]');
    if (revealed) startRevealTimer(revealed);
    // Switching the language reloads the page: the sign-in address typed so far goes along (never a password).
    Array.prototype.forEach.call(document.querySelectorAll('form.lang-switch'), function (form) {
      form.addEventListener('submit', function () {
        var typed = document.querySelector('input[type=email][data-keep-on-lang]');
        if (!typed || !typed.value) return;
        var keep = document.createElement('input');
        keep.type = 'hidden';
        keep.name = 'keepEmail';
        keep.value = typed.value;
        form.appendChild(keep);
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-print]'), function (b) {
      b.hidden = false;
      b.addEventListener('click', function () { window.print(); });
    });
    // The print sheet opens in a tab of its own, the list still open in the tab before: closing it is
    // the way back (and takes the numbers off the screen), not a second copy of the list in this tab.
    if (window.history.length === 1) {
      Array.prototype.forEach.call(document.querySelectorAll('[data-close-tab]'), function (b) {
        b.hidden = false;
        b.addEventListener('click', function () { window.close(); });
        Array.prototype.forEach.call(document.querySelectorAll('[data-back-unless-closable]'), function (a) { a.hidden = true; });
      });
    }
    // A field's error, told with the field: the field is marked invalid and described by the message
    // (the message follows the field's label in the page, maybe after a hint).
    // An error about the whole form (data-whole-form) belongs to no one field.
    Array.prototype.forEach.call(document.querySelectorAll('p.field-error:not([data-whole-form])'), function (p, i) {
      var field = null;
      var fields = 'input:not([type=hidden]), select, textarea';
      for (var el = p.previousElementSibling; el && !field; el = el.previousElementSibling) {
        if (el.classList.contains('field-error')) break;
        field = el.matches(fields) ? el : el.querySelector(fields);
      }
      if (!field) return;
      if (!p.id) p.id = 'field-error-' + i;
      field.setAttribute('aria-invalid', 'true');
      field.setAttribute('aria-describedby', ((field.getAttribute('aria-describedby') || '') + ' ' + p.id).trim());
    });
    // A purpose form: the office list offers only the offices the chosen procedure is filed at (the
    // server refuses the others too); a single one is chosen for the user.
    Array.prototype.forEach.call(document.querySelectorAll('select[name=purpose]'), function (purpose) {
      var box = purpose.closest('fieldset, form');
      var office = box && box.querySelector('select[name=office]');
      if (!office) return;
      function narrow() {
        var fitting = [];
        Array.prototype.forEach.call(office.querySelectorAll('option[data-fits]'), function (o) {
          var fits = !purpose.value || o.getAttribute('data-fits').split(' ').indexOf(purpose.value) >= 0;
          o.disabled = !fits;
          o.hidden = !fits;
          if (fits) fitting.push(o);
        });
        if (office.selectedOptions[0] && office.selectedOptions[0].disabled) office.value = '';
        if (purpose.value && fitting.length === 1) office.value = fitting[0].value;
      }
      purpose.addEventListener('change', narrow);
      narrow();
    });
    // Copy the text of an element (recovery codes, a TOTP key); shown only where the clipboard can be written.
    Array.prototype.forEach.call(document.querySelectorAll('[data-copy]'), function (b) {
      var target = document.querySelector(b.getAttribute('data-copy'));
      if (!target || !navigator.clipboard) return;
      var label = b.textContent;
      b.hidden = false;
      b.addEventListener('click', function () {
        var items = target.querySelectorAll('li');
        var text = items.length ? Array.prototype.map.call(items, function (li) { return li.textContent.trim(); }).join('\n') : target.textContent.replace(/\s+/g, '');
        navigator.clipboard.writeText(text).then(function () {
          b.textContent = b.getAttribute('data-done-label') || label;
          setTimeout(function () { b.textContent = label; }, 2000);
        });
      });
    });
  });
})();
