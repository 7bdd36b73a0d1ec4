//! Better Auth's `openAPI()` plugin: the Scalar API reference page at `/api/auth/reference` and
//! the OpenAPI document at `/api/auth/open-api/generate-schema`, both from the document `/docs`
//! and `/openapi.json` serve. Scalar comes embedded (poem-openapi's `scalar` feature, Scalar's
//! MIT-licensed standalone bundle) instead of Better Auth's jsDelivr `<script src>`, and its web
//! fonts are switched off, so the page loads nothing from another origin.

use poem::endpoint::make_sync;
use poem::web::Html;
use poem::Endpoint;
use poem_openapi::{OpenApi, OpenApiService, Webhook};

/// Better Auth's page configuration, with orgauth's name and without Scalar's font CDN.
const CONFIGURATION: &str = r#"<script>
      document.getElementById('api-reference').dataset.configuration = JSON.stringify({
        theme: "default",
        withDefaultFonts: false,
        metaData: { title: "orgauth API", description: "API Reference for your orgauth instance" }
      })
    </script>
    "#;

/// The reference page for `api`'s document.
pub fn page<T: OpenApi, W: Webhook>(api: &OpenApiService<T, W>) -> String {
    let html = api.scalar_html();
    let script = r#"<script charset="UTF-8">"#;
    debug_assert!(html.contains(script), "poem-openapi's Scalar page changed");
    html.replacen(
        "<title>Scalar</title>",
        "<title>Scalar API Reference</title>",
        1,
    )
    .replacen(script, &format!("{CONFIGURATION}{script}"), 1)
}

/// `GET` the page, built once.
pub fn endpoint(page: String) -> impl Endpoint + 'static {
    make_sync(move |_| Html(page.clone()))
}
