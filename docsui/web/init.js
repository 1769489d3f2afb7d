// fortapi docsui: starts Swagger UI on the element that carries the
// OpenAPI document's URL in its data-spec-url attribute. Loaded from the
// page as a deferred script, after swagger-ui-bundle.js, so the document is
// parsed and SwaggerUIBundle is defined when this runs.
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  if (!el || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  var csrfURL = el.getAttribute("data-csrf-url");
  var safe = { GET: true, HEAD: true, OPTIONS: true };
  // An API that checks CSRF tokens (fortapi's csrf package) refuses unsafe
  // requests that carry cookies without one: fetch a token first, from
  // this origin only, and send it in the X-CSRF-Token header.
  function withCSRF(req) {
    var method = (req.method || "GET").toUpperCase();
    if (!csrfURL || safe[method] || req.url === csrfURL) {
      return req;
    }
    return window.fetch(csrfURL, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (body) {
        if (body && typeof body.csrf_token === "string") {
          req.headers = req.headers || {};
          req.headers["X-CSRF-Token"] = body.csrf_token;
        }
        return req;
      }, function () { return req; });
  }
  // window.ui is Swagger UI's handle, as in its own examples.
  window.ui = window.SwaggerUIBundle({
    url: el.getAttribute("data-spec-url"),
    requestInterceptor: withCSRF,
    domNode: el,
    // Never send the document to the public validator service.
    validatorUrl: null,
    // Never let ?url= or ?configUrl= in the page's address choose what is
    // loaded.
    queryConfigEnabled: false,
    // Keep cookies off cross-origin "Try it out" requests (the CSP blocks
    // them anyway).
    withCredentials: false,
    deepLinking: true
  });
})();
