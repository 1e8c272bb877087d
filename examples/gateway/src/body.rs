//! Reading a request body within a size limit and a time limit.
//!
//! Handlers take the body as a stream (`web::Payload`) and read it only once the request is
//! authenticated and admitted, so nothing is buffered for a client that is refused. The body
//! must then arrive whole within the time limit: a client that stalls, or trickles bytes, is cut
//! with a 408 however little it sends. A declared `Content-Length` over the size limit is
//! refused before a byte is read. Errors close the connection: the rest of the body is never
//! waited for.

use std::{future::Future, time::Duration};

use actix_web::{HttpRequest, http::header, web};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use gatewayz_metrics::RefusalReason;

use crate::openai::ApiError;

/// Reads the whole body: 413 past `limit` bytes, 408 if it is not in within `timeout`, and the
/// error `cancel` resolves to if it resolves first (the gateway shutting down).
pub async fn read(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    timeout: Duration,
    cancel: impl Future<Output = ApiError>,
) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::body_too_large().closing());
    }
    // The declared length is allocated up front (pages are only used as bytes arrive), so a
    // body is copied once; a chunked body grows as it comes.
    let mut body = BytesMut::with_capacity(declared.map_or(0, |length| length as usize));
    let reading = async {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|error| {
                ApiError::invalid(format!("the request body could not be read: {error}"), None)
                    .refused(RefusalReason::InvalidRequest)
                    .closing()
            })?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::body_too_large().closing());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(())
    };
    tokio::select! {
        read = actix_web::rt::time::timeout(timeout, reading) => match read {
            Ok(result) => result?,
            Err(_) => return Err(ApiError::body_timeout(timeout).closing()),
        },
        error = cancel => return Err(error),
    }
    Ok(body.freeze())
}
