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
  window.SwaggerUIBundle({
    url: el.getAttribute("data-spec-url"),
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
