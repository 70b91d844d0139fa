// early.js - runs from index.html's head, before the app's JavaScript has loaded
// (a classic script: the page's Content-Security-Policy allows no inline one).
// On a workbench page (not the login, password, TOTP, portal or hall pages) it
// starts what the first screen will wait for, so that it travels while the
// entry chunk downloads and evaluates instead of after it:
//   - GET /api/v1/auth/me and /api/v1/meta, handed to the app's first session
//     restore (src/lib/api.js takeEarly; not taken, they are dropped);
//   - the workbench's chunks (layout and 工作台, JS and CSS), named by the build
//     in <meta name="mz-first-screen"> (vite.config.js earlyStart), preloaded.
// Without a session both GETs answer 401 and the router shows the login page.
(function () {
  if (/^\/(login|password|totp|portal|hall)(\/|$)/.test(location.pathname)) return;
  var get = function (path) {
    var p = fetch('/api/v1' + path, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    p.catch(function () {}); // the app's request reports a failure
    return p;
  };
  window.__mzEarly = { '/auth/me': get('/auth/me'), '/meta': get('/meta') };
  var files = document.querySelector('meta[name="mz-first-screen"]');
  if (!files) return;
  files.content.split(' ').forEach(function (href) {
    if (!href) return;
    var link = document.createElement('link');
    if (/\.css$/.test(href)) {
      link.rel = 'preload';
      link.as = 'style';
    } else {
      link.rel = 'modulepreload';
    }
    link.crossOrigin = ''; // as the app's own preloads (Vite), so that they use these
    link.href = href;
    document.head.appendChild(link);
  });
})();
