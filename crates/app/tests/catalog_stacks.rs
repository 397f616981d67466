//! The catalog and the Terraform stacks agree.
//!
//! For every product of `catalog/` and every Terraform step, the stack directory's `*.tf` files are parsed (hcl-rs)
//! and checked against what the catalog passes and what nightshift always passes (docs/catalog.md, "What every step
//! receives"):
//!
//! - every var the catalog passes (`terraform.vars`) is declared as a `variable` block;
//! - every declared variable without a `default` is passed, by the catalog or by nightshift (`nightshift_tags`,
//!   `environment`, `product`, and `local_cloud_dir` for local products);
//! - every `${<step>.<output>}` template of the product (vars, env, command) whose step is a Terraform step names an
//!   `output` block of that step's stack (Ansible and smoke steps write their outputs at run time: not checked);
//! - every resource group the stacks create carries nightshift's tags, which the sweep relies on: on Azure, every
//!   `azurerm_resource_group` resource and every `module` whose source is the resource-group module gets `tags`
//!   derived from `var.nightshift_tags` (directly or through locals); locally, every provisioner of a root that writes
//!   a group's `tags.json` writes it from `var.nightshift_tags`, and every `module` whose source is the local
//!   resource-group module passes it `tags` derived from `var.nightshift_tags` (that module writes `tags.json` from its
//!   `var.tags`, checked below). A product must create at least one resource group.

use nightshift_core::catalog::{Action, Catalog, Platform, Product};
use nightshift_core::template::{self, Reference};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Variables nightshift passes to every Terraform step of a product on this platform.
fn standard_variables(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Azure => &["nightshift_tags", "environment", "product"],
        Platform::Local => &[
            "nightshift_tags",
            "environment",
            "product",
            "local_cloud_dir",
        ],
    }
}

/// What the checks need of one stack directory, read from all its `*.tf` files.
#[derive(Default)]
struct Stack {
    /// variable name -> has a `default`
    variables: BTreeMap<String, bool>,
    outputs: BTreeSet<String>,
    /// local name -> expression text
    locals: BTreeMap<String, String>,
    /// What creates a resource group: (file, description, `tags` expression text or None when absent).
    resource_groups: Vec<(String, String, Option<String>)>,
    /// Local mode: provisioners writing `tags.json`: (file, resource, their `environment` expression text).
    tags_json_writers: Vec<(String, String, String)>,
}

const RESOURCE_GROUP_MODULE: &str = "modules/resource-group";

/// The expression as HCL text on one line (whitespace runs collapsed), for the checks and the messages.
fn expr_text(expr: &hcl::Expression) -> String {
    match hcl::format::to_string(expr) {
        Ok(text) => text.split_whitespace().collect::<Vec<_>>().join(" "),
        Err(e) => format!("<unformattable expression: {e}>"),
    }
}

fn label(block: &hcl::Block, i: usize) -> &str {
    block.labels().get(i).map(|l| l.as_str()).unwrap_or("")
}

fn attr<'a>(body: &'a hcl::Body, key: &str) -> Option<&'a hcl::Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

/// Parses every `*.tf` file of `dir`; an unreadable or unparsable file is an error naming it.
fn read_stack(dir: &Path, shown: &str) -> Result<Stack, String> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("stack {shown}: cannot read the directory ({e})"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("stack {shown}: no *.tf file"));
    }
    let mut stack = Stack::default();
    for path in files {
        let file = format!(
            "{shown}/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let text = fs::read_to_string(&path).map_err(|e| format!("{file}: cannot read ({e})"))?;
        let body: hcl::Body =
            hcl::parse(&text).map_err(|e| format!("{file}: not valid HCL: {e}"))?;
        for block in body.blocks() {
            match block.identifier() {
                "variable" => {
                    let has_default = attr(block.body(), "default").is_some();
                    stack
                        .variables
                        .insert(label(block, 0).to_string(), has_default);
                }
                "output" => {
                    stack.outputs.insert(label(block, 0).to_string());
                }
                "locals" => {
                    for a in block.body().attributes() {
                        stack
                            .locals
                            .insert(a.key().to_string(), expr_text(a.expr()));
                    }
                }
                "resource" if label(block, 0) == "azurerm_resource_group" => {
                    let tags = attr(block.body(), "tags").map(expr_text);
                    stack.resource_groups.push((
                        file.clone(),
                        format!("resource azurerm_resource_group.{}", label(block, 1)),
                        tags,
                    ));
                }
                "module" => {
                    let source = attr(block.body(), "source")
                        .map(expr_text)
                        .unwrap_or_default();
                    if source
                        .trim_matches('"')
                        .trim_end_matches('/')
                        .ends_with(RESOURCE_GROUP_MODULE)
                    {
                        let tags = attr(block.body(), "tags").map(expr_text);
                        stack.resource_groups.push((
                            file.clone(),
                            format!("module.{}", label(block, 0)),
                            tags,
                        ));
                    }
                }
                "resource" => {
                    for p in block
                        .body()
                        .blocks()
                        .filter(|b| b.identifier() == "provisioner" && label(b, 0) == "local-exec")
                    {
                        let command = attr(p.body(), "command").map(expr_text).unwrap_or_default();
                        if command.contains("tags.json") && command.contains('>') {
                            let env = attr(p.body(), "environment")
                                .map(expr_text)
                                .unwrap_or_default();
                            stack.tags_json_writers.push((
                                file.clone(),
                                format!("{}.{}", label(block, 0), label(block, 1)),
                                env,
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(stack)
}

/// Whether an expression refers to `var.nightshift_tags`, directly or through locals.
fn derives_from_nightshift_tags(
    text: &str,
    locals: &BTreeMap<String, String>,
    depth: usize,
) -> bool {
    if text.contains("var.nightshift_tags") {
        return true;
    }
    if depth == 0 {
        return false;
    }
    locals.iter().any(|(name, value)| {
        let reference = format!("local.{name}");
        text.match_indices(&reference).any(|(at, _)| {
            let next = text[at + reference.len()..].chars().next();
            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }) && derives_from_nightshift_tags(value, locals, depth - 1)
    })
}

/// Every disagreement between one product's catalog file and its stacks, one sentence each.
fn check_product(root: &Path, product: &Product) -> Vec<String> {
    let file = Path::new(&product.source)
        .strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| product.source.clone());
    let mut errors = Vec::new();
    let mut stacks: BTreeMap<String, (String, Stack)> = BTreeMap::new(); // step -> (stack dir, stack)
    for (name, step) in &product.steps {
        if let Action::Terraform { stack, .. } = &step.action {
            match read_stack(&root.join(stack), stack) {
                Ok(parsed) => {
                    stacks.insert(name.as_str().to_string(), (stack.clone(), parsed));
                }
                Err(e) => errors.push(format!("{file}: step {:?}: {e}", name.as_str())),
            }
        }
    }
    let standard = standard_variables(product.platform);

    let mut resource_groups = 0;
    for (name, step) in &product.steps {
        let step_name = name.as_str();
        // (a) and (b): the variables.
        if let (Action::Terraform { vars, .. }, Some((dir, stack))) =
            (&step.action, stacks.get(step_name))
        {
            for var in vars.keys() {
                if !stack.variables.contains_key(var) {
                    errors.push(format!(
                        "{file}: step {step_name:?} passes var {var:?}, but stack {dir} declares no variable {var:?} (declared: {})",
                        stack.variables.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            for (var, has_default) in &stack.variables {
                if !has_default && !vars.contains_key(var) && !standard.contains(&var.as_str()) {
                    errors.push(format!(
                        "{file}: step {step_name:?}: stack {dir} requires variable {var:?} (no default), which neither the catalog nor nightshift passes"
                    ));
                }
            }
        }
        // (c): every ${step.output} of a Terraform step names an output of its stack.
        let values: Vec<serde_json::Value> = match &step.action {
            Action::Terraform { vars, .. } | Action::Ansible { vars, .. } => {
                vars.values().cloned().collect()
            }
            Action::Smoke { command, env } => command
                .iter()
                .chain(env.values())
                .map(|s| serde_json::Value::String(s.clone()))
                .collect(),
        };
        for value in &values {
            let references = match template::value_references(value) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(format!("{file}: step {step_name:?}: {e}"));
                    continue;
                }
            };
            for reference in references {
                let Reference::Output {
                    step: upstream,
                    output,
                } = reference
                else {
                    continue;
                };
                if let Some((dir, stack)) = stacks.get(&upstream) {
                    if !stack.outputs.contains(&output) {
                        errors.push(format!(
                            "{file}: step {step_name:?} uses ${{{upstream}.{output}}}, but stack {dir} of step {upstream:?} has no output {output:?} (outputs: {})",
                            stack.outputs.iter().cloned().collect::<Vec<_>>().join(", ")
                        ));
                    }
                }
            }
        }
        // (d): resource groups carry nightshift's tags.
        let Some((dir, stack)) = stacks.get(step_name) else {
            continue;
        };
        // A `module` whose source is a resource-group module (terraform/modules/ on Azure, terraform/local/modules/
        // locally) is a resource group on both platforms: its `tags` must derive from var.nightshift_tags.
        {
            {
                for (tf, what, tags) in &stack.resource_groups {
                    resource_groups += 1;
                    match tags {
                        None => errors.push(format!(
                            "{file}: step {step_name:?}: {tf}: {what} sets no tags; the sweep finds resource groups by var.nightshift_tags"
                        )),
                        Some(t) if !derives_from_nightshift_tags(t, &stack.locals, 8) => errors.push(format!(
                            "{file}: step {step_name:?}: {tf}: {what} sets tags = {t}, which does not derive from var.nightshift_tags (stack {dir})"
                        )),
                        Some(_) => {}
                    }
                }
            }
        }
        if product.platform == Platform::Local {
            {
                for (tf, what, env) in &stack.tags_json_writers {
                    resource_groups += 1;
                    if !derives_from_nightshift_tags(env, &stack.locals, 8) {
                        errors.push(format!(
                            "{file}: step {step_name:?}: {tf}: {what} writes a resource group's tags.json, but not from var.nightshift_tags (environment = {env})"
                        ));
                    }
                }
            }
        }
    }
    if resource_groups == 0 && !stacks.is_empty() {
        errors.push(format!(
            "{file}: no stack of product {:?} creates a resource group tagged from var.nightshift_tags (the sweep could never delete it)",
            product.name.as_str()
        ));
    }
    errors
}

/// Loads the catalog directory and checks every product against its stacks (paths relative to `root`).
fn check_catalog(root: &Path, catalog_dir: &Path) -> Result<(Catalog, Vec<String>), String> {
    let catalog = nightshift_app::catalog_files::load(catalog_dir).map_err(|e| e.to_string())?;
    let errors = catalog
        .products
        .values()
        .flat_map(|p| check_product(root, p))
        .collect();
    Ok((catalog, errors))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn report(errors: &[String]) -> String {
    format!(
        "{} disagreement(s):\n  {}",
        errors.len(),
        errors.join("\n  ")
    )
}

#[test]
fn every_product_of_the_catalog_agrees_with_its_terraform_stacks() {
    let root = repo_root();
    let (catalog, errors) = check_catalog(&root, &root.join("catalog")).expect("the catalog loads");
    assert!(errors.is_empty(), "{}", report(&errors));

    // Both platforms are covered, and every Terraform step of each was looked at.
    let platforms: BTreeSet<_> = catalog
        .products
        .values()
        .map(|p| format!("{:?}", p.platform))
        .collect();
    assert!(
        platforms.contains("Azure") && platforms.contains("Local"),
        "expected an azure and a local product, got {platforms:?}"
    );
    for name in ["orthense", "orthense-demo"] {
        let product = catalog
            .product(name)
            .unwrap_or_else(|| panic!("product {name} is in catalog/"));
        let terraform_steps = product
            .steps
            .values()
            .filter(|s| matches!(s.action, Action::Terraform { .. }))
            .count();
        assert!(
            terraform_steps >= 5,
            "{name}: only {terraform_steps} terraform steps"
        );
    }
}

#[test]
fn a_misspelt_catalog_var_is_reported_with_its_file_step_and_name() {
    let root = repo_root();
    let tmp = tempfile::tempdir().expect("temp dir");
    for entry in fs::read_dir(root.join("catalog")).expect("catalog/") {
        let path = entry.expect("entry").path();
        fs::copy(&path, tmp.path().join(path.file_name().expect("file name"))).expect("copy");
    }
    let yaml = tmp.path().join("orthense.yaml");
    let text = fs::read_to_string(&yaml).expect("orthense.yaml");
    let misspelt = text.replacen(
        "        log_analytics_workspace_id: ",
        "        log_analytics_workspce_id: ",
        1,
    );
    assert_ne!(
        text, misspelt,
        "the fixture edit must apply: catalog/orthense.yaml passes log_analytics_workspace_id"
    );
    fs::write(&yaml, misspelt).expect("write");

    let (_, errors) = check_catalog(&root, tmp.path()).expect("the edited catalog still loads");
    let all = report(&errors);
    assert!(
        errors.iter().any(|e| e.contains("orthense.yaml")
            && e.contains("step \"data-sql\"")
            && e.contains("passes var \"log_analytics_workspce_id\"")
            && e.contains("terraform/stacks/orthense/data-sql")),
        "the misspelt var is not reported: {all}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("requires variable \"log_analytics_workspace_id\"")),
        "the var the misspelling leaves unset is not reported: {all}"
    );
    assert_eq!(
        errors.len(),
        2,
        "only the two consequences of the misspelling: {all}"
    );
}

/// A tiny product: `foundation` creates a resource group, `app` uses its outputs.
fn write_fixture(dir: &Path, foundation_tf: &str, app_vars: &str) {
    let catalog = dir.join("catalog");
    fs::create_dir_all(&catalog).expect("catalog dir");
    fs::write(
        catalog.join("fixture.yaml"),
        format!(
            "schema: nightshift.catalog/v1\nproduct: fixture\nplatform: azure\nsteps:\n  foundation:\n    terraform:\n      stack: stacks/foundation\n      vars:\n        location: westeurope\n  app:\n    needs: [foundation]\n    terraform:\n      stack: stacks/app\n      vars:\n{app_vars}environments:\n  main:\n    kind: persistent\n"
        ),
    )
    .expect("fixture.yaml");
    let standard = "variable \"nightshift_tags\" {\n  type = map(string)\n}\n\nvariable \"environment\" {\n  type = string\n}\n\nvariable \"product\" {\n  type = string\n}\n";
    for (stack, main) in [
        ("foundation", foundation_tf.to_string()),
        (
            "app",
            "variable \"resource_group_name\" {\n  type = string\n}\n\nvariable \"sku\" {\n  type    = string\n  default = \"B1\"\n}\n".to_string(),
        ),
    ] {
        let d = dir.join("stacks").join(stack);
        fs::create_dir_all(&d).expect("stack dir");
        fs::write(d.join("variables.standard.tf"), standard).expect("variables.standard.tf");
        fs::write(d.join("main.tf"), main).expect("main.tf");
    }
}

const GOOD_FOUNDATION: &str = r#"
variable "location" {
  type = string
}

locals {
  group_tags = merge({ cost = "qa" }, var.nightshift_tags)
}

module "resource_group" {
  source   = "../../modules/resource-group"
  name     = "rg-${var.product}-${var.environment}"
  location = var.location
  tags     = local.group_tags
}

output "resource_group_name" {
  value = module.resource_group.name
}
"#;

#[test]
fn a_small_fixture_that_agrees_passes_the_checker() {
    let tmp = tempfile::tempdir().expect("temp dir");
    write_fixture(
        tmp.path(),
        GOOD_FOUNDATION,
        "        resource_group_name: ${foundation.resource_group_name}\n",
    );
    let (_, errors) =
        check_catalog(tmp.path(), &tmp.path().join("catalog")).expect("the fixture loads");
    assert!(errors.is_empty(), "{}", report(&errors));
}

#[test]
fn a_missing_output_an_unpassed_variable_and_untagged_resource_group_are_each_reported() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let foundation = GOOD_FOUNDATION
        .replace("tags     = local.group_tags", "tags     = { cost = \"qa\" }")
        .replace("variable \"location\" {\n  type = string\n}", "variable \"location\" {\n  type = string\n}\n\nvariable \"owner\" {\n  type = string\n}")
        + "\nresource \"azurerm_resource_group\" \"extra\" {\n  name     = \"rg-extra\"\n  location = var.location\n}\n";
    write_fixture(
        tmp.path(),
        &foundation,
        "        resource_group_name: ${foundation.resource_group_nme}\n",
    );
    let (_, errors) =
        check_catalog(tmp.path(), &tmp.path().join("catalog")).expect("the fixture loads");
    let all = report(&errors);
    let expected = [
        "step \"app\" uses ${foundation.resource_group_nme}, but stack stacks/foundation of step \"foundation\" has no output \"resource_group_nme\"",
        "step \"foundation\": stack stacks/foundation requires variable \"owner\" (no default)",
        "module.resource_group sets tags = { cost = \"qa\" }, which does not derive from var.nightshift_tags",
        "resource azurerm_resource_group.extra sets no tags",
    ];
    for e in expected {
        assert!(
            errors
                .iter()
                .any(|x| x.contains(e) && x.starts_with("catalog/fixture.yaml: ")),
            "missing {e:?} in {all}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{all}");
}

#[test]
fn the_local_resource_group_module_writes_tags_json_from_the_tags_it_is_given() {
    let dir = repo_root()
        .join("terraform/local")
        .join(RESOURCE_GROUP_MODULE);
    let stack =
        read_stack(&dir, "terraform/local/modules/resource-group").expect("the module parses");
    assert!(
        !stack.tags_json_writers.is_empty(),
        "the local resource-group module no longer writes tags.json: the sweep could not read a group's tags"
    );
    for (file, what, env) in &stack.tags_json_writers {
        assert!(
            env.contains("jsonencode(var.tags)"),
            "{file}: {what} writes tags.json from {env}, not from var.tags"
        );
    }
}
