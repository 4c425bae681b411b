/* Starts the vendored Swagger UI on /api/v1/docs from the settings the page carries as
   JSON data (no inline script: the Content-Security-Policy forbids it, ADR 0023). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("swagger-settings").textContent);
  var csrf = document.body.getAttribute("data-csrf-token");
  config.dom_id = "#swagger-ui";
  config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
  if (csrf) {
    config.requestInterceptor = function (request) {
      request.headers["X-CSRFToken"] = csrf;
      return request;
    };
  }
  window.ui = SwaggerUIBundle(config);
})();
