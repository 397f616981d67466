//! Reading a Terraform root and the local modules it calls (hcl-rs): variables, locals, outputs, resources, module
//! calls and `required_providers`. [`super::scope`] evaluates what can be known of them before any apply.

use hcl::{Body, Expression};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

#[derive(Debug, Clone)]
pub struct Variable {
    pub default: Option<Expression>,
    pub ty: Option<Expression>,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub data: bool,
    pub rtype: String,
    pub name: String,
    pub body: Body,
    pub file: String,
}

#[derive(Debug)]
pub struct Call {
    pub name: String,
    pub body: Body,
    pub file: String,
    /// The called module, when its source is a local path.
    pub module: Option<Rc<Module>>,
}

/// One directory of `*.tf` files.
#[derive(Debug, Default)]
pub struct Module {
    /// (repository-relative path, text) of each file.
    pub files: Vec<(String, String)>,
    pub variables: BTreeMap<String, Variable>,
    pub locals: BTreeMap<String, (Expression, String)>,
    pub outputs: BTreeMap<String, (Expression, String)>,
    pub resources: Vec<Resource>,
    pub calls: Vec<Call>,
    /// (local name, source, version constraint, file)
    pub providers: Vec<(String, String, String, String)>,
    /// (constraint, file)
    pub required_version: Option<(String, String)>,
}

impl Module {
    pub fn resource(&self, rtype: &str, name: &str, data: bool) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.rtype == rtype && r.name == name && r.data == data)
    }

    pub fn call(&self, name: &str) -> Option<&Call> {
        self.calls.iter().find(|c| c.name == name)
    }

    pub fn has_resource_type(&self, rtype: &str) -> bool {
        self.resources.iter().any(|r| r.rtype == rtype)
    }
}

pub fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

fn label(block: &hcl::Block, i: usize) -> String {
    block
        .labels()
        .get(i)
        .map(|l| l.as_str().to_string())
        .unwrap_or_default()
}

/// The expression as HCL text on one line.
pub fn text(expr: &Expression) -> String {
    hcl::format::to_string(expr)
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn shown(repo_root: &Path, p: &Path) -> String {
    p.strip_prefix(repo_root).unwrap_or(p).display().to_string()
}

/// Parses `dir` and, recursively, the local modules it calls. `depth` stops a module that calls itself.
pub fn load(repo_root: &Path, dir: &Path, depth: usize) -> Result<Rc<Module>, String> {
    let dir = normalize(dir);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| {
            format!(
                "{}: cannot read the directory ({e})",
                shown(repo_root, &dir)
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    paths.sort();
    let mut m = Module::default();
    for path in paths {
        let file = shown(repo_root, &path);
        let src = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
        let body: Body = hcl::parse(&src).map_err(|e| format!("{file}: {e}"))?;
        for block in body.blocks() {
            match block.identifier() {
                "variable" => {
                    m.variables.insert(
                        label(block, 0),
                        Variable {
                            default: attr(block.body(), "default").cloned(),
                            ty: attr(block.body(), "type").cloned(),
                        },
                    );
                }
                "locals" => {
                    for a in block.body().attributes() {
                        m.locals
                            .insert(a.key().to_string(), (a.expr().clone(), file.clone()));
                    }
                }
                "output" => {
                    if let Some(v) = attr(block.body(), "value") {
                        m.outputs.insert(label(block, 0), (v.clone(), file.clone()));
                    }
                }
                "resource" | "data" => m.resources.push(Resource {
                    data: block.identifier() == "data",
                    rtype: label(block, 0),
                    name: label(block, 1),
                    body: block.body().clone(),
                    file: file.clone(),
                }),
                "module" => {
                    let source = attr(block.body(), "source")
                        .and_then(|e| match e {
                            Expression::String(s) => Some(s.clone()),
                            _ => None,
                        })
                        .unwrap_or_default();
                    let module =
                        if (source.starts_with("./") || source.starts_with("../")) && depth < 8 {
                            Some(load(repo_root, &dir.join(&source), depth + 1)?)
                        } else {
                            None
                        };
                    m.calls.push(Call {
                        name: label(block, 0),
                        body: block.body().clone(),
                        file: file.clone(),
                        module,
                    });
                }
                "terraform" => {
                    if let Some(Expression::String(v)) = attr(block.body(), "required_version") {
                        m.required_version = Some((v.clone(), file.clone()));
                    }
                    for rp in block
                        .body()
                        .blocks()
                        .filter(|b| b.identifier() == "required_providers")
                    {
                        for a in rp.body().attributes() {
                            if let Expression::Object(o) = a.expr() {
                                let get = |k: &str| {
                                    o.iter()
                                        .find(|(key, _)| text_key(key) == k)
                                        .and_then(|(_, v)| match v {
                                            Expression::String(s) => Some(s.clone()),
                                            _ => None,
                                        })
                                        .unwrap_or_default()
                                };
                                m.providers.push((
                                    a.key().to_string(),
                                    get("source"),
                                    get("version"),
                                    file.clone(),
                                ));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        m.files.push((file, src));
    }
    Ok(Rc::new(m))
}

/// `a/b/../c` -> `a/c`, without touching the file system (symlinked files stay where the root links them).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

pub fn text_key(k: &hcl::ObjectKey) -> String {
    match k {
        hcl::ObjectKey::Identifier(i) => i.as_str().to_string(),
        hcl::ObjectKey::Expression(Expression::String(s)) => s.clone(),
        hcl::ObjectKey::Expression(e) => text(e),
        _ => String::new(),
    }
}
