/*
 * The SPARQL query editor page: YASGUI, served by this server, set up to talk to this server only.
 *
 * The page passes its settings in <script type="application/json" id="sparql-editor-config">
 * ({endpoint, tabs: [{name, query}], selected}) because its Content-Security-Policy allows no
 * inline script. Everything YASGUI would fetch from elsewhere by default is turned off here:
 * - the "property" and "class" autocompleters ask lov.linkeddata.es: unregistered;
 * - the "prefixes" autocompleter asks prefix.cc when prefixCcApi is set: kept null, so it uses
 *   the list bundled in yasgui.min.js;
 * - corsProxy stays unset, so no endpoint is probed with an ASK query;
 * - the endpoint catalogue offers this server's endpoint instead of DBpedia and Wikidata;
 * - populateFromUrl is off: a link could otherwise name another endpoint and run a query on it
 *   as the page opens (the server puts ?query= in a tab of its own instead).
 * Persistence is off, so tabs left in localStorage by an earlier visit never hide the examples.
 */
(function () {
  "use strict";

  const REMOTE_COMPLETERS = ["property", "class"];

  function settings() {
    const element = document.getElementById("sparql-editor-config");
    return JSON.parse(element.textContent);
  }

  function keepLocalCompleters(Yasqe) {
    REMOTE_COMPLETERS.forEach(function (name) {
      delete Yasqe.Autocompleters[name];
    });
    // In place: Yasgui.defaults.yasqe is this same object, and YASGUI merges arrays by index,
    // so a shorter array passed in the config would not remove the remote ones.
    const names = Yasqe.defaults.autocompleters;
    const local = names.filter(function (name) {
      return REMOTE_COMPLETERS.indexOf(name) < 0;
    });
    names.splice(0, names.length, ...local);
    Yasqe.defaults.prefixCcApi = null;
  }

  function start() {
    const config = settings();
    // YASGUI builds GET URLs with new URL(endpoint), which needs an absolute URL.
    const endpoint = new URL(config.endpoint, document.baseURI).href;
    keepLocalCompleters(Yasgui.Yasqe);

    const yasgui = new Yasgui(document.getElementById("yasgui"), {
      // POST: a long query would not fit in a URL.
      requestConfig: { endpoint: endpoint, method: "POST" },
      endpointCatalogueOptions: {
        getData: function () {
          return [{ endpoint: endpoint }];
        },
      },
      copyEndpointOnNewTab: true,
      corsProxy: undefined,
      populateFromUrl: false,
      autoAddOnInit: false,
      persistenceId: null,
      yasqe: { persistenceId: null, prefixCcApi: null },
      yasr: { persistenceId: null },
    });

    const ids = config.tabs.map(function (tab, index) {
      const added = yasgui.addTab(index === 0, {
        name: tab.name,
        yasqe: { value: tab.query },
        requestConfig: { endpoint: endpoint },
      });
      const link = document.getElementById("tab-" + added.getId());
      if (link && tab.summary) {
        link.title = tab.summary;
      }
      return added.getId();
    });
    yasgui.selectTabId(ids[config.selected]);
    // For the browser console and the tests: the YASGUI instance of the page.
    window.sparqlEditor = yasgui;
    document.documentElement.setAttribute("data-editor", "ready");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
