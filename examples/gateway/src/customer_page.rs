//! The customer's usage page at `/usage`: one HTML page, its stylesheet and its script,
//! compiled into the binary (no CDN, no web font, no build step), in the status page's style.
//!
//! The page holds no data, so it is public; the customer types their API key, which the script
//! keeps in the tab's session storage and sends to `/v1/key` and `/v1/usage`, the endpoints
//! that decide what the key may see. Nothing is inline, so a strict Content-Security-Policy
//! allows exactly these three files and those two endpoints (same origin).

use actix_web::{HttpResponse, http::header, web};

/// Where the page is served; its files sit beneath it.
pub const PATH: &str = "/usage";

/// Its own script and stylesheet, requests to the gateway itself, nothing inline, no framing,
/// no form posted anywhere, and no DOM sink taking strings.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; \
     trusted-types 'none'";

const PAGE: &str = include_str!("../assets/usage.html");
const STYLESHEET: &str = include_str!("../assets/usage.css");
const SCRIPT: &str = include_str!("../assets/usage.js");

fn serve(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // Revalidated on every load: an upgrade of the gateway shows at once.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// Mounts the page and its two files.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route(
            PATH,
            web::get().to(|| async { serve("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            &format!("{PATH}/app.css"),
            web::get().to(|| async { serve("text/css; charset=utf-8", STYLESHEET) }),
        )
        .route(
            &format!("{PATH}/app.js"),
            web::get().to(|| async { serve("text/javascript; charset=utf-8", SCRIPT) }),
        );
}
