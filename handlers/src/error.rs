//! One error type for every function, and how each kind is answered.
//!
//! A bad envelope is the host's or the wiring's mistake: 400, logged as a warning. Everything else that reaches
//! here is something a retry may fix (a store or queue hiccup, a catalog being fixed): an opaque 500, so the host
//! abandons the message and Service Bus redelivers it; the full cause goes to the log, never to the caller.
//! Messages that can never succeed do not reach here: the use cases record them as rejected and answer 2xx.

use crate::invocation::BadInvocation;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use nightshift_app::service::AppError as UseCaseError;

#[derive(Debug)]
pub enum AppError {
    BadInvocation(BadInvocation),
    UseCase(UseCaseError),
}

impl From<BadInvocation> for AppError {
    fn from(e: BadInvocation) -> Self {
        Self::BadInvocation(e)
    }
}

impl From<UseCaseError> for AppError {
    fn from(e: UseCaseError) -> Self {
        Self::UseCase(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::BadInvocation(e) => {
                tracing::warn!(error = %e, "bad invocation");
                (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({ "error": e.to_string() })),
                )
                    .into_response()
            }
            AppError::UseCase(e) => {
                let mut chain = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    chain.push_str(": ");
                    chain.push_str(&s.to_string());
                    src = s.source();
                }
                tracing::error!(retryable = e.is_retryable(), error = %chain, "invocation failed");
                eprintln!("nightshift handler: invocation failed: {chain}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(serde_json::json!({ "error": "internal error" })),
                )
                    .into_response()
            }
        }
    }
}
