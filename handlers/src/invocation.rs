//! The custom-handler protocol: what the Functions host POSTs to `/<FunctionName>` and what it expects back.
//!
//! The host JSON-encodes string values once more: a Service Bus body arrives as a JSON string holding the JSON
//! text, string metadata keeps embedded quotes, numbers arrive as strings. Decoding here is tolerant of all of it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct InvocationRequest {
    #[serde(rename = "Data", default)]
    pub data: Map<String, Value>,
    #[serde(rename = "Metadata", default)]
    pub metadata: Map<String, Value>,
}

/// The envelope itself is wrong: a host or wiring problem, answered 400.
#[derive(Debug)]
pub struct BadInvocation(pub String);

impl std::fmt::Display for BadInvocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInvocation {}

/// Removes up to two levels of JSON string encoding.
pub fn unquote(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => {
            let mut s = s.clone();
            for _ in 0..2 {
                match serde_json::from_str::<String>(&s) {
                    Ok(inner) => s = inner,
                    Err(_) => break,
                }
            }
            Some(s)
        }
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

impl InvocationRequest {
    /// A Service Bus message body bound as `binding`, as text.
    pub fn message_body(&self, binding: &str) -> Result<String, BadInvocation> {
        match self.data.get(binding) {
            None => Err(BadInvocation(format!(
                "Data.{binding} is missing: check the function's binding name"
            ))),
            Some(Value::String(_)) => Ok(unquote(&self.data[binding]).unwrap_or_default()),
            // Some hosts hand a JSON body over already parsed.
            Some(other) => Ok(other.to_string()),
        }
    }

    pub fn meta(&self, key: &str) -> Option<String> {
        self.metadata.get(key).and_then(unquote)
    }

    pub fn message_id(&self) -> String {
        self.meta("MessageId").unwrap_or_else(|| "unknown".into())
    }

    pub fn delivery_count(&self) -> Option<u32> {
        self.meta("DeliveryCount")
            .and_then(|s| s.trim().parse().ok())
    }

    /// `Data.req` of an HTTP trigger.
    pub fn http_request(&self, binding: &str) -> Result<HttpRequest, BadInvocation> {
        let v = self
            .data
            .get(binding)
            .ok_or_else(|| BadInvocation(format!("Data.{binding} is missing")))?;
        let v = match v {
            Value::String(s) => serde_json::from_str(s)
                .map_err(|e| BadInvocation(format!("Data.{binding}: {e}")))?,
            other => other.clone(),
        };
        let query = match v.get("Query") {
            Some(Value::Object(m)) => m
                .iter()
                .filter_map(|(k, v)| unquote(v).map(|v| (k.clone(), v)))
                .collect(),
            // Older hosts send the query as a JSON string.
            Some(Value::String(s)) => serde_json::from_str::<Map<String, Value>>(s)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| unquote(v).map(|v| (k.clone(), v)))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let params = match v.get("Params") {
            Some(Value::Object(m)) => m
                .iter()
                .filter_map(|(k, v)| unquote(v).map(|v| (k.clone(), v)))
                .collect(),
            _ => Vec::new(),
        };
        Ok(HttpRequest {
            method: v
                .get("Method")
                .and_then(unquote)
                .unwrap_or_else(|| "GET".into()),
            url: v.get("Url").and_then(unquote).unwrap_or_default(),
            query,
            params,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub params: Vec<(String, String)>,
}

impl HttpRequest {
    pub fn param(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct InvocationResponse {
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

impl InvocationResponse {
    /// Messages for a Service Bus output binding (left out when there are none).
    pub fn with_messages(mut self, binding: &str, bodies: Vec<String>) -> Self {
        if !bodies.is_empty() {
            self.outputs.insert(
                binding.into(),
                Value::Array(bodies.into_iter().map(Value::String).collect()),
            );
        }
        self
    }

    pub fn with_logs(mut self, logs: Vec<String>) -> Self {
        self.logs.extend(logs);
        self
    }

    /// An HTTP output: the host wants all four fields.
    pub fn with_http(mut self, binding: &str, status: u16, body: &Value) -> Self {
        self.outputs.insert(
            binding.into(),
            serde_json::json!({
                "statusCode": status,
                "status": status,
                "body": serde_json::to_string_pretty(body).expect("serializable"),
                "headers": { "Content-Type": "application/json" }
            }),
        );
        self
    }

    /// An HTTP output that is a page for people (the `actions` confirmation).
    pub fn with_html(mut self, binding: &str, status: u16, html: String) -> Self {
        self.outputs.insert(
            binding.into(),
            serde_json::json!({
                "statusCode": status,
                "status": status,
                "body": html,
                "headers": { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" }
            }),
        );
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_encoded_strings_are_unquoted_up_to_two_levels() {
        assert_eq!(unquote(&Value::String("\"4e77\"".into())).unwrap(), "4e77");
        assert_eq!(
            unquote(&Value::String("\"\\\"x\\\"\"".into())).unwrap(),
            "x"
        );
        assert_eq!(
            unquote(&Value::String("{\"a\":1}".into())).unwrap(),
            "{\"a\":1}"
        );
        assert_eq!(unquote(&serde_json::json!(3)).unwrap(), "3");
    }

    #[test]
    fn a_service_bus_body_arrives_as_a_json_string_of_json_text() {
        let req: InvocationRequest = serde_json::from_value(serde_json::json!({
            "Data": {"message": "\"{\\\"schema\\\":\\\"x\\\"}\""},
            "Metadata": {"MessageId": "\"abc\"", "DeliveryCount": "2"}
        }))
        .unwrap();
        assert_eq!(req.message_body("message").unwrap(), "{\"schema\":\"x\"}");
        assert_eq!(req.message_id(), "abc");
        assert_eq!(req.delivery_count(), Some(2));
        assert!(req.message_body("other").is_err());
    }
}
