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

  document.addEventListener('DOMContentLoaded', function () {
    var banner = document.querySelector('[data-reauth-until]');
    if (banner) startReauthTimer(banner);
  });
})();
