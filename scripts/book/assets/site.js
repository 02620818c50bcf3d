// The book's only script (a classic script: file:// pages run no modules and cannot fetch). Folds the sidebar on
// narrow screens and draws every live chart with vega-embed from the Vega-Lite spec inlined beside it; the
// notebook's PNG stays visible where a chart cannot draw. Each chart records data-state="drawn" or "failed".
(function () {
  'use strict';
  var nav = document.querySelector('details.sidebar');
  if (nav && window.matchMedia('(max-width: 860px)').matches) nav.removeAttribute('open');

  var charts = document.querySelectorAll('.chart[data-chart]');
  if (charts.length === 0) return;
  if (typeof window.vegaEmbed !== 'function') {
    console.error('book: vega-embed did not load (assets/vega-embed.min.js); charts stay as pictures');
    return;
  }
  Array.prototype.forEach.call(charts, function (el) {
    var spec;
    try {
      spec = JSON.parse(el.querySelector('script.chart-spec').textContent);
    } catch (e) {
      el.setAttribute('data-state', 'failed');
      console.error('book: chart ' + el.id + ' has an unreadable spec: ' + e.message);
      return;
    }
    var target = document.createElement('div');
    target.className = 'chart-live';
    el.insertBefore(target, el.querySelector('script.chart-spec'));
    var options = {
      renderer: 'canvas',
      // exporting a picture works offline; the source view and the online editor do not belong in the book
      actions: { export: true, source: false, compiled: false, editor: false },
      // values under the pointer for marks that stand for one data row each (specs without tooltips of their own)
      config: { bar: { tooltip: true }, rect: { tooltip: true }, point: { tooltip: true } },
    };
    window.vegaEmbed(target, spec, options).then(
      function (result) {
        return result.view.runAsync().then(function () {
          var fallback = el.querySelector('.chart-fallback');
          if (fallback) fallback.hidden = true;
          el.setAttribute('data-state', 'drawn');
        });
      }
    ).catch(function (err) {
      target.remove();
      el.setAttribute('data-state', 'failed');
      console.error('book: chart ' + el.id + ' did not draw: ' + (err && err.message ? err.message : err));
    });
  });
})();
