//! The shapes, generated as catalogs of smoke steps that do nothing (`true`) or wait (`sleep 0.2`).

/// The arguments that select a measure other than the shapes: `-- cost` (cost.rs) and `-- floor` (floor.rs). The
/// docs' test checks the documented `cargo bench` commands against these and [`Shape::name`].
pub const COST: &str = "cost";
pub const FLOOR: &str = "floor";

/// One shape of work to measure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// `n` steps, each needing the one before.
    Chain(usize),
    /// One root and `n` steps needing only the root.
    FanOut(usize),
    /// `layers` layers of `width` steps; every step of a layer needs every step of the previous layer.
    Layered {
        layers: usize,
        width: usize,
        sleep: bool,
    },
    /// `n` pull-request environments released at once, each a chain of 3 steps.
    Environments(usize),
    /// `nightshift status --json` with `n` finished runs (10 steps each) in the store.
    Status(usize),
}

impl Shape {
    /// Every shape, in the order a full run measures them.
    pub fn all() -> Vec<Shape> {
        vec![
            Shape::Chain(10),
            Shape::Chain(50),
            Shape::Chain(400),
            Shape::FanOut(100),
            Shape::FanOut(200),
            Shape::Layered {
                layers: 10,
                width: 20,
                sleep: false,
            },
            Shape::Layered {
                layers: 10,
                width: 20,
                sleep: true,
            },
            Shape::Environments(1),
            Shape::Environments(20),
            Shape::Environments(100),
            Shape::Status(50),
            Shape::Status(500),
            Shape::Status(2000),
        ]
    }

    /// The name to select it with on the command line (`-- chain400`).
    pub fn name(&self) -> String {
        match self {
            Shape::Chain(n) => format!("chain{n}"),
            Shape::FanOut(n) => format!("fanout{n}"),
            Shape::Layered {
                layers,
                width,
                sleep,
            } => format!(
                "layered{layers}x{width}{}",
                if *sleep { "-sleep" } else { "" }
            ),
            Shape::Environments(n) => format!("envs{n}"),
            Shape::Status(n) => format!("status{n}"),
        }
    }

    /// What the table calls it.
    pub fn label(&self) -> String {
        match self {
            Shape::Chain(n) => format!("chain of {n} (`true`)"),
            Shape::FanOut(n) => format!("fan-out of {n} under one root (`true`)"),
            Shape::Layered {
                layers,
                width,
                sleep,
            } => format!(
                "layered {layers}x{width} (`{}`)",
                if *sleep { "sleep 0.2" } else { "true" }
            ),
            Shape::Environments(n) => {
                format!("PR environments released at once: {n} (chain of 3 `true`)")
            }
            Shape::Status(n) => format!("`status --json`, {n} runs in the store"),
        }
    }

    /// The steps of the catalog, in the catalog's YAML.
    pub fn steps_yaml(&self) -> String {
        let mut out = String::new();
        let mut step = |name: &str, needs: &[String], sleep: bool| {
            let command = if sleep {
                r#"["sleep", "0.2"]"#
            } else {
                r#"["true"]"#
            };
            out.push_str(&format!(
                "  {name}:\n    needs: [{}]\n    smoke: {{ command: {command} }}\n",
                needs.join(", ")
            ));
        };
        match *self {
            Shape::Chain(n) => {
                for i in 0..n {
                    let needs: Vec<String> =
                        (i > 0).then(|| format!("s{}", i - 1)).into_iter().collect();
                    step(&format!("s{i}"), &needs, false);
                }
            }
            Shape::FanOut(n) => {
                step("root", &[], false);
                for i in 0..n {
                    step(&format!("f{i}"), &["root".to_string()], false);
                }
            }
            Shape::Layered {
                layers,
                width,
                sleep,
            } => {
                for l in 0..layers {
                    let needs: Vec<String> = if l == 0 {
                        Vec::new()
                    } else {
                        (0..width).map(|w| format!("l{}-{w}", l - 1)).collect()
                    };
                    for w in 0..width {
                        step(&format!("l{l}-{w}"), &needs, sleep);
                    }
                }
            }
            Shape::Environments(_) => {
                for i in 0..3 {
                    let needs: Vec<String> =
                        (i > 0).then(|| format!("s{}", i - 1)).into_iter().collect();
                    step(&format!("s{i}"), &needs, false);
                }
            }
            Shape::Status(_) => {
                // The demo's shape: a foundation, two layers of three, two seeds, a smoke check.
                step("foundation", &[], false);
                for i in 0..3 {
                    step(&format!("infra{i}"), &["foundation".into()], false);
                }
                for i in 0..3 {
                    step(&format!("app{i}"), &[format!("infra{i}")], false);
                }
                step("seed-a", &["app0".into(), "app1".into()], false);
                step("seed-b", &["app2".into()], false);
                step("smoke", &["seed-a".into(), "seed-b".into()], false);
            }
        }
        out
    }

    /// The whole catalog file: product `bench`, no retries (a failure is a failed benchmark).
    pub fn catalog(&self) -> String {
        format!(
            r#"schema: nightshift.catalog/v1
product: bench
platform: local
defaults: {{ retries: 0 }}
steps:
{}environments:
  nightly:
    kind: nightly
    schedule: {{ at: "00:00", catch_up: 24h }}
    lifetime: 1h
  pr: {{ kind: pull-request, lifetime: 7d }}
"#,
            self.steps_yaml()
        )
    }
}
