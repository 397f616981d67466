//! host.json and every function.json validate against the public SchemaStore schemas kept in
//! `shared/schemas/azure-functions/`. Nothing is fetched: a reference to another schema resolves only to a local
//! copy of a json.schemastore.org schema, and any other external reference fails the build of the validator.
//! (These schemas hold no external reference today: every `$ref` is `#/definitions/...`.)
//!
//! One normalisation: function.json's schema declares draft-04 but uses `const` (draft-06) in the `sql` and `mysql`
//! bindings. Draft-04 ignores `const`, which leaves a `sqlBinding` branch that matches any binding, and then the
//! `oneOf` over binding kinds rejects every binding of every function.json (a Python draft-04 validator agrees).
//! The intent is plain, so the tests read each `const` as the equivalent one-value `enum` (a no-op once fixed upstream).

use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::Value;
use std::path::{Path, PathBuf};

const SCHEMAS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/schemas/azure-functions"
);
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Maps `https://json.schemastore.org/<name>` to the local copy; refuses everything else.
struct LocalSchemaStore;

impl Retrieve for LocalSchemaStore {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let local = uri
            .as_str()
            .strip_prefix("https://json.schemastore.org/")
            .map(|name| Path::new(SCHEMAS).join(name.trim_end_matches('#')))
            .filter(|p| p.is_file());
        match local {
            Some(path) => Ok(read_json(&path)),
            None => Err(format!(
                "{uri} is not kept in {SCHEMAS}; the schema tests never fetch (add the file there)"
            )
            .into()),
        }
    }
}

/// Rewrites `{"const": x}` as `{"enum": [x]}`, which means the same in every draft (see the module header).
fn const_as_enum(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(value) = map.remove("const") {
                map.insert("enum".into(), Value::Array(vec![value]));
            }
            map.values_mut().for_each(const_as_enum);
        }
        Value::Array(items) => items.iter_mut().for_each(const_as_enum),
        _ => {}
    }
}

fn validator(schema_file: &str, draft: Draft) -> Validator {
    let mut schema = read_json(&Path::new(SCHEMAS).join(schema_file));
    if draft == Draft::Draft4 {
        const_as_enum(&mut schema);
    }
    jsonschema::options()
        .with_draft(draft)
        .with_retriever(LocalSchemaStore)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{schema_file} does not compile offline: {e}"))
}

fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
        .collect()
}

#[test]
fn host_json_validates_against_the_schemastore_schema() {
    // Arrange
    let validator = validator("host.json", Draft::Draft7);
    let host = read_json(&Path::new(REPO).join("host.json"));

    // Act
    let errors = errors(&validator, &host);

    // Assert
    assert!(errors.is_empty(), "host.json: {errors:#?}");
}

#[test]
fn every_function_json_validates_against_the_schemastore_schema() {
    // Arrange
    let validator = validator("function.json", Draft::Draft4);
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(REPO).join("function-definitions"))
        .expect("function-definitions/")
        .filter_map(Result::ok)
        .map(|e| e.path().join("function.json"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "{files:?}");

    // Act
    let failures: Vec<(PathBuf, Vec<String>)> = files
        .into_iter()
        .map(|file| {
            let errors = errors(&validator, &read_json(&file));
            (file, errors)
        })
        .filter(|(_, errors)| !errors.is_empty())
        .collect();

    // Assert
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_schemas_catch_a_broken_definition() {
    // Arrange: the validation above proves something only if a wrong file fails.
    let function_schema = validator("function.json", Draft::Draft4);
    let broken = [
        serde_json::json!({ "bindings": [
            { "name": "message", "type": "serviceBusTrigger", "direction": "sideways" } ] }),
        // A timer is only ever a trigger: the kind-specific schemas must tell, `const` normalisation included.
        serde_json::json!({ "bindings": [
            { "name": "timer", "type": "timerTrigger", "direction": "out", "schedule": "0 0 2 * * *" } ] }),
    ];
    let host = validator("host.json", Draft::Draft7);

    // Act
    let function_errors: Vec<Vec<String>> =
        broken.iter().map(|b| errors(&function_schema, b)).collect();
    let host_errors = errors(&host, &serde_json::json!({ "version": "3.0" }));

    // Assert
    for (doc, errors) in broken.iter().zip(&function_errors) {
        assert!(!errors.is_empty(), "{doc} passed");
    }
    assert!(!host_errors.is_empty(), "host.json version 3.0 passed");
}
