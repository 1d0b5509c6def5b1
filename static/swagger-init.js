/* Starts Swagger UI on /schema (kept out of the page: the Content-Security-Policy allows no inline script). */
(function () {
  "use strict";
  var el = document.getElementById("swagger-container");
  var config = JSON.parse(el.getAttribute("data-swagger"));

  function cookie(name) {
    var found = document.cookie.split("; ").find(function (c) { return c.indexOf(name + "=") === 0; });
    return found ? decodeURIComponent(found.slice(name.length + 1)) : undefined;
  }

  window.ui = window.SwaggerUIBundle({
    url: config.spec_url,
    dom_id: "#swagger-container",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
    requestInterceptor: function (request) {
      var token = config.csrf_cookie ? cookie(config.csrf_cookie) : undefined;
      if (token !== undefined && config.csrf_header) {
        request.headers[config.csrf_header] = token;
      }
      return request;
    }
  });
})();
