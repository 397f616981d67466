//! The host's HTTP front end on loopback: HTTP triggers under `/<routePrefix>/`, and the admin API that fires a
//! non-HTTP function.

use super::*;

/// Decodes `%XX` escapes (and `+` as a space in a query string).
fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `POST /admin/functions/<name>`: fires a timer function now, as the real host's admin API runs a non-HTTP
/// function (`nightshift up` uses it to trigger tonight's runs on a running `nightshift serve`). 202 when the
/// invocation succeeded, 500 with the reason when it failed, 404 for no such timer function.
pub(super) async fn admin_invoke(
    axum::extract::State(inner): axum::extract::State<Arc<Inner>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if inner.stopping() {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the host is stopping",
        )
            .into_response();
    }
    match inner.fire_timer(&name).await {
        Ok(r) if r.succeeded => axum::http::StatusCode::ACCEPTED.into_response(),
        Ok(r) => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            r.error.unwrap_or_else(|| format!("status {:?}", r.status)),
        )
            .into_response(),
        Err(HostError::UnknownFunction(n)) => (
            axum::http::StatusCode::NOT_FOUND,
            format!("no timer function {n:?}"),
        )
            .into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Serves HTTP triggers on loopback under `/<routePrefix>/`, as the host's own HTTP front end does.
pub(super) async fn serve_http(
    axum::extract::State(inner): axum::extract::State<Arc<Inner>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    let prefix = format!("/{}/", inner.app.route_prefix);
    let Some(path) = parts.uri.path().strip_prefix(&prefix).map(str::to_string) else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return axum::http::StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let query = parts
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect();
    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let req = HttpRequest {
        method: parts.method.as_str().to_string(),
        url: format!("http://{host}{}", parts.uri),
        query,
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned()),
    };
    match inner.http(None, &percent_decode(&path, false), req).await {
        Ok(resp) => {
            let mut builder = axum::http::Response::builder().status(resp.status);
            for (k, v) in &resp.headers {
                builder = builder.header(k.as_str(), v.as_str());
            }
            builder
                .body(axum::body::Body::from(resp.body))
                .unwrap_or_else(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        Err(HostError::NoRoute { .. }) => axum::http::StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!("HTTP trigger failed: {e}");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
