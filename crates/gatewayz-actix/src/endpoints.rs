//! The routes and their handlers.

use std::{io::Write, sync::OnceLock};

use actix_web::{
    HttpRequest, HttpResponse, HttpResponseBuilder, Resource,
    http::header::{
        self, AcceptEncoding, CacheControl, CacheDirective, Encoding, Header as _, HeaderValue,
    },
    web::{self, Bytes, Data, ServiceConfig},
};
use flate2::{Compression, write::GzEncoder};
use gatewayz_registry::{Category, ProviderSummary};
use serde::Serialize;

use crate::{
    Error, Monitoring, admin, dashboard,
    error::cut,
    flights::Read,
    route::{GET_HEAD, get, method_not_allowed, not_found},
};

/// `Content-Type` of the Prometheus text format; Prometheus 3 rejects scrapes without it.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `Content-Type` of `/prometheus/metrics/docs`.
pub const MARKDOWN_CONTENT_TYPE: &str = "text/markdown; charset=utf-8";

const GET_HEAD_OPTIONS: &str = "GET, HEAD, OPTIONS";
const POST: &str = "POST";

/// Mounts every monitoring endpoint on an actix `App` (or scope) in one call.
///
/// ```
/// # let handle = gatewayz_registry::RecorderBuilder::new().build().unwrap().handle();
/// use gatewayz_actix::{Monitoring, configure};
///
/// let monitoring = Monitoring::new(handle);
/// let app = actix_web::App::new().configure(configure(monitoring.clone()));
/// ```
///
/// Mounts `/prometheus/metrics/*`, the status page `/prometheus/dashboard` (unless turned off
/// with [`Monitoring::dashboard`]), `/health`, `/health/*` and
/// `/admin/providers/{provider}/circuit/{action}`; see the crate docs for what each answers.
pub fn configure(monitoring: Monitoring) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        docs_body();
        let json_allow = if monitoring.cors.is_enabled() {
            GET_HEAD_OPTIONS
        } else {
            GET_HEAD
        };
        let data = Data::new(monitoring);

        let mut metrics = web::scope("/prometheus/metrics")
            .app_data(data.clone())
            .service(get(
                "/all",
                GET_HEAD,
                |req: HttpRequest, state: Data<Monitoring>| exposition(req, state, None),
            ));
        for category in Category::ALL {
            metrics = metrics.service(get(
                &format!("/{category}"),
                GET_HEAD,
                move |req: HttpRequest, state: Data<Monitoring>| {
                    exposition(req, state, Some(category))
                },
            ));
        }
        let metrics = metrics
            .service(with_preflight(get("/summary", json_allow, summary), &data))
            .service(get("/docs", GET_HEAD, docs))
            .default_service(web::to(not_found));
        cfg.service(metrics);
        if data.dashboard {
            cfg.service(dashboard::scope());
        }

        cfg.service(
            with_preflight(get("/health", json_allow, health), &data).app_data(data.clone()),
        );
        cfg.service(
            web::scope("/health")
                .app_data(data.clone())
                .service(with_preflight(
                    get("/providers", json_allow, providers),
                    &data,
                ))
                .default_service(web::to(not_found)),
        );

        cfg.service(
            web::resource("/admin/providers/{provider}/circuit/{action}")
                .app_data(data)
                .route(web::post().to(admin_circuit))
                .default_service(web::to(|| method_not_allowed(POST))),
        );
    }
}

/// Adds the CORS preflight answer to a JSON resource, when CORS is on.
fn with_preflight(resource: Resource, data: &Data<Monitoring>) -> Resource {
    if data.cors.is_enabled() {
        resource.route(web::method(actix_web::http::Method::OPTIONS).to(preflight))
    } else {
        resource
    }
}

/// An error as its JSON response.
fn respond(result: Result<HttpResponse, Error>) -> HttpResponse {
    result.unwrap_or_else(HttpResponse::from_error)
}

fn no_store(response: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    response.insert_header(CacheControl(vec![CacheDirective::NoStore]))
}

/// Adds CORS headers to a finished response.
fn cors(req: &HttpRequest, state: &Monitoring, mut response: HttpResponse) -> HttpResponse {
    state.cors.apply(req, response.headers_mut());
    response
}

async fn exposition(
    req: HttpRequest,
    state: Data<Monitoring>,
    category: Option<Category>,
) -> HttpResponse {
    respond(
        async {
            state.auth.check(&req)?;
            let gzip = accepts_gzip(&req);
            let text = state
                .read(Read::Text(category, gzip), move |source| {
                    encode(source.render(category)?.into_bytes(), gzip)
                })
                .await?;
            Ok(encoded(no_store(&mut HttpResponse::Ok()), gzip)
                .insert_header((
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(PROMETHEUS_CONTENT_TYPE),
                ))
                .body(text))
        }
        .await,
    )
}

/// Whether the request's `Accept-Encoding` prefers gzip to no encoding (Prometheus's does).
fn accepts_gzip(req: &HttpRequest) -> bool {
    let supported = [Encoding::gzip(), Encoding::identity()];
    AcceptEncoding::parse(req)
        .ok()
        .and_then(|accept| accept.negotiate(supported.iter()))
        .is_some_and(|encoding| encoding == Encoding::gzip())
}

/// The body as sent: gzipped at the fastest level when asked for. Done here, inside the read,
/// so that it runs off the async workers and once per shared read, and so that the response
/// leaves as one sized body: actix's `Compress` streams it in chunks whose last few bytes can
/// wait 40 ms for a delayed ACK (Nagle).
fn encode(body: Vec<u8>, gzip: bool) -> Result<Bytes, Error> {
    if !gzip {
        return Ok(Bytes::from(body));
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 8), Compression::fast());
    encoder
        .write_all(&body)
        .and_then(|()| encoder.finish())
        .map(Bytes::from)
        .map_err(|err| Error::Source {
            reason: format!("gzip failed: {err}"),
        })
}

/// Marks an answer that may be gzipped, and says whether it is.
fn encoded(response: &mut HttpResponseBuilder, gzip: bool) -> &mut HttpResponseBuilder {
    response.insert_header((header::VARY, HeaderValue::from_static("accept-encoding")));
    if gzip {
        response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
    }
    response
}

/// `?category=C`: one of the five, or absent for all.
fn category_query(query: &str) -> Result<Option<Category>, Error> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|_| Error::UnknownCategory { given: cut(query) })?;
    let mut values = pairs.iter().filter(|(name, _)| name == "category");
    let Some((_, value)) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::RepeatedCategory);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| Error::UnknownCategory { given: cut(value) })
}

async fn summary(req: HttpRequest, state: Data<Monitoring>) -> HttpResponse {
    let result = async {
        state.auth.check(&req)?;
        let category = category_query(req.query_string())?;
        let gzip = accepts_gzip(&req);
        let body = state
            .read(Read::Summary(category, gzip), move |source| {
                encode(json(&source.summarise(category)?)?, gzip)
            })
            .await?;
        Ok(encoded(no_store(&mut HttpResponse::Ok()), gzip)
            .content_type(mime_json())
            .body(body))
    }
    .await;
    cors(&req, &state, respond(result))
}

fn mime_json() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

fn json(value: &impl Serialize) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|err| Error::Source {
        reason: format!("the answer could not be serialised: {err}"),
    })
}

/// The Markdown reference, rendered once: the catalogue does not change while running.
fn docs_body() -> Bytes {
    static DOCS: OnceLock<Bytes> = OnceLock::new();
    DOCS.get_or_init(|| Bytes::from(gatewayz_registry::docs::reference_markdown()))
        .clone()
}

async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(MARKDOWN_CONTENT_TYPE),
        ))
        .body(docs_body())
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

async fn health(req: HttpRequest, state: Data<Monitoring>) -> HttpResponse {
    let reason = state.degraded_reason();
    let body = Health {
        status: if reason.is_some() { "degraded" } else { "ok" },
        reason,
    };
    cors(&req, &state, no_store(&mut HttpResponse::Ok()).json(body))
}

#[derive(Serialize)]
struct ProvidersHealth {
    timestamp: String,
    providers: Vec<ProviderSummary>,
}

async fn providers(req: HttpRequest, state: Data<Monitoring>) -> HttpResponse {
    let result = async {
        let body = state
            .read(Read::Providers, |source| {
                let summary = source.summarise(Some(Category::Providers))?;
                json(&ProvidersHealth {
                    timestamp: summary.timestamp,
                    providers: summary.metrics.providers.unwrap_or_default().by_provider,
                })
                .map(Bytes::from)
            })
            .await?;
        Ok(no_store(&mut HttpResponse::Ok())
            .content_type(mime_json())
            .body(body))
    }
    .await;
    cors(&req, &state, respond(result))
}

async fn preflight(req: HttpRequest, state: Data<Monitoring>) -> HttpResponse {
    let response = HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, GET_HEAD))
        // A wildcard would not cover `Authorization`; it must be named.
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "authorization"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .finish();
    cors(&req, &state, response)
}

async fn admin_circuit(req: HttpRequest, state: Data<Monitoring>) -> HttpResponse {
    respond(admin::circuit(req, state.admin.clone()).await)
}
