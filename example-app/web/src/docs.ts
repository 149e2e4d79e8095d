// Swagger UI (from swagger-ui-dist, served locally) on the router's own OpenAPI document.
declare const SwaggerUIBundle: ((config: Record<string, unknown>) => unknown) & { presets: { apis: unknown } };

SwaggerUIBundle({
  url: '/auth/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  // The demo signs in through the page, so "Try it out" requests need a token pasted into Authorize.
  persistAuthorization: false,
});
