//! The status page at `/prometheus/dashboard`: one HTML page, its stylesheet and its script,
//! embedded in the crate, that draws provider health, business numbers and short histories
//! from the JSON summary.
//!
//! The page holds no data, so it is public. Its script polls `metrics/summary` (a relative
//! URL, so the page works wherever [`configure`](crate::configure) is mounted) with the
//! credentials the user typed in, if the summary asks for any, and keeps the polls of the last
//! 15 minutes in memory to draw its charts: nothing to deploy, nothing stored server-side.
//!
//! Nothing is inline (no `<script>` body, no `style` attribute, no event-handler attribute),
//! so a strict Content-Security-Policy allows exactly these three files and the summary.
//! The files are compiled into the binary: no CDN, no web font, no build step.

use actix_web::{
    HttpRequest, HttpResponse, Scope,
    http::header::{
        self, CacheControl, CacheDirective, EntityTag, Header as _, HeaderValue, IfNoneMatch,
    },
    web,
};

use crate::route::{GET_HEAD, get, not_found};

/// Where the page is mounted. Its files sit beneath it, at `app.css` and `app.js`.
pub(crate) const PATH: &str = "/prometheus/dashboard";

/// What the page may load: its own script and stylesheet, the summary, and `data:` images
/// (the empty favicon, which saves a request the host would answer 404). Nothing inline, no
/// plugins, no framing, no form posted anywhere, and no DOM sink taking strings (the script
/// builds every element with DOM calls, so Trusted Types can refuse all of them).
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; \
     trusted-types 'none'";

/// One embedded file and how it is served.
struct Asset {
    content_type: &'static str,
    body: &'static str,
    /// A strong validator from the content, so a reload transfers nothing until an upgrade
    /// changes the file.
    etag: [u8; 18],
}

impl Asset {
    const fn new(content_type: &'static str, body: &'static str) -> Asset {
        Asset {
            content_type,
            body,
            etag: etag(body),
        }
    }
}

static PAGE: Asset = Asset::new(
    "text/html; charset=utf-8",
    include_str!("../assets/dashboard.html"),
);
static STYLESHEET: Asset = Asset::new(
    "text/css; charset=utf-8",
    include_str!("../assets/dashboard.css"),
);
static SCRIPT: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_str!("../assets/dashboard.js"),
);

/// `"<16 hex digits>"`: the 64-bit FNV-1a hash of `body`, computed at compile time.
const fn etag(body: &str) -> [u8; 18] {
    let bytes = body.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    let digits = b"0123456789abcdef";
    let mut tag = [b'"'; 18];
    let mut j = 0;
    while j < 16 {
        tag[1 + j] = digits[((hash >> (60 - 4 * j)) & 0xf) as usize];
        j += 1;
    }
    tag
}

/// The page and its two files, each answering GET and HEAD; anything else beneath is 404.
pub(crate) fn scope() -> Scope {
    web::scope(PATH)
        .service(get("", GET_HEAD, |req: HttpRequest| serve(req, &PAGE)))
        .service(get("/app.css", GET_HEAD, |req: HttpRequest| {
            serve(req, &STYLESHEET)
        }))
        .service(get("/app.js", GET_HEAD, |req: HttpRequest| {
            serve(req, &SCRIPT)
        }))
        .default_service(web::to(not_found))
}

async fn serve(req: HttpRequest, asset: &'static Asset) -> HttpResponse {
    let unchanged = match IfNoneMatch::parse(&req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => {
            let hex = String::from_utf8_lossy(&asset.etag[1..17]).into_owned();
            let ours = EntityTag::new_strong(hex);
            tags.iter().any(|tag| tag.weak_eq(&ours))
        }
        Err(_) => false,
    };
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((
            header::ETAG,
            HeaderValue::from_bytes(&asset.etag).expect("an ETag is quoted ASCII hex"),
        ))
        // Revalidate on every load, so a page and a script from different versions never
        // meet after an upgrade; the ETag makes that revalidation cost one empty answer.
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .insert_header((
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // For browsers without `frame-ancestors`.
        .insert_header((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .insert_header((
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ));
    if unchanged {
        response.finish()
    } else {
        response
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ))
            .body(asset.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_differ_by_content_and_are_quoted_hex() {
        for asset in [&PAGE, &STYLESHEET, &SCRIPT] {
            let tag = std::str::from_utf8(&asset.etag).unwrap();
            assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
            assert!(tag[1..17].bytes().all(|b| b.is_ascii_hexdigit()), "{tag}");
        }
        assert_ne!(PAGE.etag, SCRIPT.etag);
        assert_ne!(etag("a"), etag("b"));
    }
}
