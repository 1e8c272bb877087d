//! Building resources: GET and HEAD with the same handler, 404 and 405 in the one error shape.

use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, web};

use crate::Error;

/// `Allow` of a resource that answers GET and HEAD.
pub(crate) const GET_HEAD: &str = "GET, HEAD";

/// A resource answering GET and HEAD with `handler`, and 405 with `Allow: allow` otherwise.
pub(crate) fn get<F, Args>(path: &str, allow: &'static str, handler: F) -> Resource
where
    F: Handler<Args> + Clone,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(move || method_not_allowed(allow)))
}

/// 404 in the one error shape.
pub(crate) async fn not_found() -> HttpResponse {
    HttpResponse::from_error(Error::NotFound)
}

/// 405, with `Allow: allow`.
pub(crate) async fn method_not_allowed(allow: &'static str) -> HttpResponse {
    HttpResponse::from_error(Error::MethodNotAllowed { allow })
}
