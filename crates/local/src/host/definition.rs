//! The function app as the Functions host reads it: `host.json` and `function-definitions/<name>/function.json`
//! (the function's name is its folder's), with `%SETTING%` references expanded from the app settings.

use super::ncrontab::Schedule;
use super::HostError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to start the custom handler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandlerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Added to the app settings, which the handler gets as environment variables.
    pub env: BTreeMap<String, String>,
    /// Defaults to the app root.
    pub working_dir: Option<PathBuf>,
}

impl HandlerCommand {
    pub fn new(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// What starts a function.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Timer {
        binding: String,
        schedule: Schedule,
        run_on_startup: bool,
    },
    ServiceBus {
        binding: String,
        queue: String,
    },
    Http {
        binding: String,
        /// Lowercase; empty means any.
        methods: Vec<String>,
        /// Without the route prefix; the function's name when function.json has none.
        route: String,
    },
}

/// An output binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    ServiceBus {
        binding: String,
        queue: String,
    },
    Http {
        binding: String,
    },
    /// A binding this host does not emulate: its outputs are ignored.
    Other {
        binding: String,
        kind: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    pub name: String,
    pub trigger: Trigger,
    pub outputs: Vec<Output>,
}

/// host.json and the functions.
#[derive(Debug, Clone)]
pub struct AppDefinition {
    pub root: PathBuf,
    pub host_json: Value,
    /// `extensions.http.routePrefix`, `api` by default.
    pub route_prefix: String,
    /// `functionTimeout`; None when unbounded (`-1`).
    pub function_timeout: Option<Duration>,
    /// `extensions.serviceBus.maxConcurrentCalls`: invocations in flight per Service Bus triggered function. Unset,
    /// the extension's default (v5): 16 per processor.
    pub max_concurrent_calls: usize,
    pub functions: Vec<FunctionDef>,
}

/// Replaces each `%NAME%` with the app setting; a missing setting is an error, as in the real host.
pub fn expand(text: &str, settings: &BTreeMap<String, String>) -> Result<String, HostError> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('%') else { break };
        let name = &after[..end];
        let value = settings.get(name).ok_or_else(|| {
            HostError::Config(format!(
                "'%{name}%' does not resolve to a value: add the app setting {name}"
            ))
        })?;
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_timespan(s: &str) -> Option<Duration> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 3 {
        return None;
    }
    let h: u64 = parts[0].parse().ok()?;
    let m: u64 = parts[1].parse().ok()?;
    let sec: f64 = parts[2].parse().ok()?;
    // Checked: `from_secs_f64` panics on a negative, NaN or huge value, and `h * 3600` can overflow.
    let whole = h.checked_mul(3600)?.checked_add(m.checked_mul(60)?)?;
    let frac = Duration::try_from_secs_f64(sec).ok()?;
    Duration::from_secs(whole).checked_add(frac)
}

fn read_json(path: &Path) -> Result<Value, HostError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| HostError::Config(format!("reading {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| HostError::Config(format!("{} does not parse: {e}", path.display())))
}

fn str_prop(
    binding: &Value,
    key: &str,
    settings: &BTreeMap<String, String>,
) -> Result<Option<String>, HostError> {
    binding
        .get(key)
        .and_then(Value::as_str)
        .map(|s| expand(s, settings))
        .transpose()
}

fn parse_function(
    name: &str,
    json: &Value,
    settings: &BTreeMap<String, String>,
) -> Result<FunctionDef, HostError> {
    let bad = |why: String| HostError::Config(format!("function {name}: {why}"));
    let bindings = json
        .get("bindings")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("function.json has no bindings array".into()))?;
    let mut trigger = None;
    let mut outputs = Vec::new();
    for b in bindings {
        let binding = b
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let kind = b.get("type").and_then(Value::as_str).unwrap_or_default();
        let queue = || {
            str_prop(b, "queueName", settings)?
                .ok_or_else(|| bad(format!("binding {binding} has no queueName")))
        };
        match kind {
            "timerTrigger" => {
                let text = str_prop(b, "schedule", settings)?
                    .ok_or_else(|| bad("the timer has no schedule".into()))?;
                let schedule = text.parse().map_err(bad)?;
                let run_on_startup = b
                    .get("runOnStartup")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                trigger = Some(Trigger::Timer {
                    binding,
                    schedule,
                    run_on_startup,
                });
            }
            "serviceBusTrigger" => {
                trigger = Some(Trigger::ServiceBus {
                    queue: queue()?,
                    binding,
                })
            }
            "httpTrigger" => {
                let methods = b
                    .get("methods")
                    .and_then(Value::as_array)
                    .map(|m| {
                        m.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_ascii_lowercase)
                            .collect()
                    })
                    .unwrap_or_default();
                let route = str_prop(b, "route", settings)?.unwrap_or_else(|| name.to_string());
                trigger = Some(Trigger::Http {
                    binding,
                    methods,
                    route: route.trim_matches('/').to_string(),
                });
            }
            "serviceBus" => outputs.push(Output::ServiceBus {
                queue: queue()?,
                binding,
            }),
            "http" => outputs.push(Output::Http { binding }),
            other => outputs.push(Output::Other {
                binding,
                kind: other.to_string(),
            }),
        }
    }
    let trigger = trigger.ok_or_else(|| {
        bad("no trigger binding this host knows (timer, serviceBus, http)".into())
    })?;
    Ok(FunctionDef {
        name: name.to_string(),
        trigger,
        outputs,
    })
}

impl AppDefinition {
    /// Reads `<root>/host.json` and every `<root>/function-definitions/*/function.json`, skipping functions
    /// disabled by `"disabled": true` or the app setting `AzureWebJobs.<name>.Disabled=true`.
    pub fn load(root: &Path, settings: &BTreeMap<String, String>) -> Result<Self, HostError> {
        let host_json = read_json(&root.join("host.json"))?;
        let route_prefix = host_json
            .pointer("/extensions/http/routePrefix")
            .and_then(Value::as_str)
            .unwrap_or("api")
            .trim_matches('/')
            .to_string();
        let function_timeout = match host_json.get("functionTimeout").and_then(Value::as_str) {
            None => Some(Duration::from_secs(600)),
            Some("-1") => None,
            Some(s) => Some(parse_timespan(s).ok_or_else(|| {
                HostError::Config(format!("functionTimeout {s:?} is not hh:mm:ss"))
            })?),
        };
        let max_concurrent_calls = match host_json.pointer("/extensions/serviceBus/maxConcurrentCalls") {
            None => 16 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            Some(v) => v
                .as_u64()
                .filter(|n| *n >= 1)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    HostError::Config(format!(
                        "host.json extensions.serviceBus.maxConcurrentCalls {v} is not a whole number of at least 1"
                    ))
                })?,
        };
        let defs = root.join("function-definitions");
        let mut names: Vec<String> = std::fs::read_dir(&defs)
            .map_err(|e| HostError::Config(format!("reading {}: {e}", defs.display())))?
            .filter_map(Result::ok)
            .filter(|e| e.path().join("function.json").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut functions = Vec::new();
        for name in names {
            let json = read_json(&defs.join(&name).join("function.json"))?;
            let disabled_setting = settings
                .get(&format!("AzureWebJobs.{name}.Disabled"))
                .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
            if json.get("disabled").and_then(Value::as_bool) == Some(true) || disabled_setting {
                tracing::info!(function = %name, "function disabled");
                continue;
            }
            functions.push(parse_function(&name, &json, settings)?);
        }
        Ok(Self {
            root: root.to_path_buf(),
            host_json,
            route_prefix,
            function_timeout,
            max_concurrent_calls,
            functions,
        })
    }

    pub fn function(&self, name: &str) -> Option<&FunctionDef> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The handler command host.json declares (`customHandler.description`), paths relative to the app root.
    pub fn default_handler(
        &self,
        settings: &BTreeMap<String, String>,
    ) -> Result<HandlerCommand, HostError> {
        let d = self
            .host_json
            .pointer("/customHandler/description")
            .ok_or_else(|| {
                HostError::Config("host.json has no customHandler.description".into())
            })?;
        let exe = d
            .get("defaultExecutablePath")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                HostError::Config("customHandler.description has no defaultExecutablePath".into())
            })?;
        let args = d
            .get("arguments")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|s| expand(s, settings))
                    .collect()
            })
            .transpose()?
            .unwrap_or_default();
        let working_dir = d
            .get("workingDirectory")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(|s| self.root.join(s));
        Ok(HandlerCommand {
            program: self.root.join(expand(exe, settings)?),
            args,
            env: BTreeMap::new(),
            working_dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BTreeMap<String, String> {
        BTreeMap::from([
            ("NIGHTLY_SCHEDULE".to_string(), "0 0 2 * * *".to_string()),
            ("SWEEP_SCHEDULE".to_string(), "0 */15 * * * *".to_string()),
            ("WATCHDOG_SCHEDULE".to_string(), "0 */5 * * * *".to_string()),
        ])
    }

    #[test]
    fn a_function_timeout_out_of_range_is_refused_instead_of_panicking() {
        assert_eq!(parse_timespan("00:10:00"), Some(Duration::from_secs(600)));
        assert_eq!(
            parse_timespan("00:00:01.5"),
            Some(Duration::from_millis(1500))
        );
        for bad in [
            "00:00:-1",
            "00:00:NaN",
            "00:00:1e300",
            "99999999999999999:00:00",
            "1:2",
        ] {
            assert_eq!(parse_timespan(bad), None, "{bad}");
        }
    }

    #[test]
    fn settings_are_expanded_and_a_missing_one_is_named() {
        let s = settings();
        assert_eq!(
            expand("x-%NIGHTLY_SCHEDULE%-y", &s).unwrap(),
            "x-0 0 2 * * *-y"
        );
        assert_eq!(expand("100%", &s).unwrap(), "100%");
        let err = expand("%NOPE%", &s).unwrap_err().to_string();
        assert!(err.contains("NOPE"), "{err}");
    }

    #[test]
    fn the_repository_function_app_loads_with_every_trigger_kind() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let app = AppDefinition::load(&root, &settings()).unwrap();
        assert_eq!(app.route_prefix, "api");
        assert_eq!(app.function_timeout, Some(Duration::from_secs(600)));
        let dispatch = app.function("step-dispatch").unwrap();
        assert!(
            matches!(&dispatch.trigger, Trigger::ServiceBus { queue, binding } if queue == "steps" && binding == "message")
        );
        let status = app.function("status").unwrap();
        assert!(
            matches!(&status.trigger, Trigger::Http { route, methods, .. } if route == "status/{*path}" && methods == &["get"])
        );
        let nightly = app.function("nightly-scheduler").unwrap();
        assert!(
            matches!(&nightly.trigger, Trigger::Timer { schedule, .. } if schedule.to_string() == "0 0 2 * * *")
        );
        assert_eq!(
            nightly.outputs,
            vec![Output::ServiceBus {
                binding: "steps".into(),
                queue: "steps".into()
            }]
        );
        let handler = app.default_handler(&settings()).unwrap();
        assert_eq!(handler.program, root.join("handler"));
    }

    #[test]
    fn a_disabled_function_is_skipped() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut s = settings();
        s.insert("AzureWebJobs.status.Disabled".into(), "true".into());
        let app = AppDefinition::load(&root, &s).unwrap();
        assert!(app.function("status").is_none());
    }
}
