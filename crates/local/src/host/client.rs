//! A minimal HTTP/1.1 client for talking to the handler on loopback: one connection per request, as cheap as a
//! loopback connect is, and no TLS stack to build.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Sends a request to `127.0.0.1:<port>` and gives the status and body; an error means no HTTP answer at all.
pub async fn send(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connecting to the handler on port {port}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("127.0.0.1:{port}"));
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("building request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the answer to {method} {path}: {e}"))?
        .to_bytes();
    Ok((status, bytes.to_vec()))
}

/// POSTs a JSON document.
pub async fn post_json(
    port: u16,
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, Vec<u8>), String> {
    let headers = [("content-type".to_string(), "application/json".to_string())];
    send(port, "POST", path, &headers, body.to_string().into_bytes()).await
}
