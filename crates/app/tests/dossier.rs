//! The technical dossier, extracted from the real catalog and stacks (docs/dossier.md).
//!
//! Orthense's dossier holds every component and edge of seed 000's architecture diagram, each row is found in the
//! file it cites (nothing invented), removing an edge from a stack removes it from the matrix, and a product unlike
//! Orthense (PostgreSQL, Node, external APIs: tests/data/dossier-agenda) needs no code change.

use nightshift_app::dossier::{self, merge_environments, Input};
use nightshift_core::catalog::Catalog;
use nightshift_core::dossier::{markdown, mermaid, Dossier, Lang, Origin};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dossier-agenda")
}

fn catalog_at(root: &Path) -> Catalog {
    nightshift_app::catalog_files::load(&root.join("catalog")).unwrap()
}

fn dossier_at(root: &Path, product: &str, env: &str) -> Dossier {
    let catalog = catalog_at(root);
    let p = catalog.product(product).unwrap();
    let def = dossier::resolve_environment(p, env).unwrap();
    dossier::build(&Input {
        repo_root: root,
        product: p,
        environment: def,
        environment_name: env,
        run: None,
    })
}

fn has_flow(d: &Dossier, from: &str, to: &str, protocol: &str, port: Option<u16>) -> bool {
    d.flows.iter().any(|f| {
        f.source == from && f.destination == to && f.protocol == protocol && f.port == port
    })
}

fn flows_text(d: &Dossier) -> Vec<String> {
    d.flows
        .iter()
        .map(|f| {
            format!(
                "{} -> {} {} {:?} ({:?})",
                f.source, f.destination, f.protocol, f.port, f.origin
            )
        })
        .collect()
}

#[test]
fn orthenses_dossier_has_every_component_and_edge_of_seed_000s_architecture_in_the_matrix_and_the_diagram(
) {
    let d = dossier_at(&repo_root(), "orthense", "nightly");
    // Seed 000: API (medical data) + MongoDB, accounts API (STS) + SQL Server, the three SPAs, SendGrid,
    // Cloudflare, Application Insights.
    let components = [
        "api-medical",
        "data-mongo",
        "api-accounts",
        "data-sql",
        "spas.pro",
        "spas.patient",
        "spas.backoffice",
        "sendgrid",
        "dns",
        "foundation.app-insights",
        "foundation.key-vault",
    ];
    for c in components {
        assert!(
            d.component(c).is_some(),
            "component {c} missing: {:?}",
            d.components.iter().map(|c| &c.id).collect::<Vec<_>>()
        );
    }
    assert_eq!(d.component("dns").unwrap().technology, "Cloudflare DNS");
    let all = flows_text(&d);
    let edges: Vec<(&str, &str, &str, Option<u16>)> = vec![
        ("api-medical", "data-mongo", "TLS (MongoDB)", Some(10255)),
        ("api-accounts", "data-sql", "TDS (TLS)", Some(1433)),
        ("api-medical", "api-accounts", "HTTPS", Some(443)), // JWT: the issuer's keys
        ("api-medical", "sendgrid", "HTTPS", Some(443)),
        ("api-accounts", "sendgrid", "HTTPS", Some(443)),
        ("api-medical", "foundation.app-insights", "HTTPS", Some(443)),
        (
            "api-accounts",
            "foundation.app-insights",
            "HTTPS",
            Some(443),
        ),
        ("api-medical", "foundation.key-vault", "HTTPS", Some(443)),
        ("api-accounts", "foundation.key-vault", "HTTPS", Some(443)),
        ("users", "dns", "DNS", Some(53)),
        ("nightshift.jobs", "dns", "HTTPS", Some(443)),
        ("nightshift.jobs", "arm", "HTTPS", Some(443)),
        ("nightshift.jobs", "nightshift.store", "HTTPS", Some(443)),
        ("nightshift.jobs", "nightshift.bus", "HTTPS", Some(443)),
    ];
    let mut edges = edges;
    for spa in ["spas.pro", "spas.patient", "spas.backoffice"] {
        edges.push(("users", spa, "HTTPS", Some(443)));
        edges.push((spa, "api-medical", "HTTPS", Some(443)));
        edges.push((spa, "api-accounts", "HTTPS", Some(443))); // OAuth/OpenID and CORS
    }
    let diagram = mermaid::render(&d, Lang::Fr);
    for (from, to, proto, port) in &edges {
        assert!(
            has_flow(&d, from, to, proto, *port),
            "{from} -> {to} {proto} {port:?} missing from:\n{}",
            all.join("\n")
        );
        let rel = format!("Rel({}, {},", mermaid::alias(from), mermaid::alias(to));
        assert!(
            diagram.contains(&rel),
            "{rel} missing from the diagram:\n{diagram}"
        );
    }
    for c in components {
        assert!(
            diagram.contains(&format!("({},", mermaid::alias(c))),
            "{c} missing from the diagram"
        );
    }
    // The derived edges are derived: only SendGrid and the OpenID sign-in are declared in the catalog.
    let declared: Vec<_> = d
        .flows
        .iter()
        .filter(|f| f.origin == Origin::Declared)
        .map(|f| f.destination.as_str())
        .collect();
    assert!(
        declared
            .iter()
            .all(|x| *x == "sendgrid" || *x == "api-accounts"),
        "{declared:?}"
    );
    assert!(
        has_flow(
            &d,
            "api-medical",
            "data-mongo",
            "TLS (MongoDB)",
            Some(10255)
        ) && d
            .flows
            .iter()
            .any(|f| f.destination == "data-mongo" && f.origin == Origin::Stacks)
    );
}

/// Checks that `text` is in `file`, resolved against the roots in order.
fn found_in(roots: &[PathBuf], file: &str, text: &str) -> Result<(), String> {
    for root in roots {
        if let Ok(content) = std::fs::read_to_string(root.join(file)) {
            return if content.contains(text) {
                Ok(())
            } else {
                Err(format!("{file} does not contain {text:?}"))
            };
        }
    }
    Err(format!("{file} does not exist"))
}

/// Every row's evidence: the file exists and holds the fact (a version, a setting name, a resource type).
fn cross_check(d: &Dossier, roots: &[PathBuf]) -> Vec<String> {
    let bad = std::cell::RefCell::new(Vec::new());
    let check = |what: String, file: &str, text: &str| {
        if let Err(e) = found_in(roots, file, text) {
            bad.borrow_mut().push(format!("{what}: {e}"));
        }
    };
    for c in &d.components {
        if let Some(e) = &c.evidence {
            check(format!("component {}", c.id), &e.file, &e.text);
        }
    }
    for f in &d.flows {
        check(
            format!("flow {} -> {}", f.source, f.destination),
            &f.evidence.file,
            &f.evidence.text,
        );
    }
    for dep in &d.dependencies {
        let Some(e) = &dep.evidence else { continue };
        if let Some(v) = &dep.version {
            // Per-environment values ("B1 (nightly, pr) / P1v3 (prod)"): each value must be in the file.
            for part in v.split(" / ") {
                let value = part.split(" (").next().unwrap_or(part);
                if value == "?" {
                    continue; // unknown in that environment: shown as such, nothing to find
                }
                let files: Vec<&str> = std::iter::once(e)
                    .chain(&dep.also)
                    .map(|e| e.file.as_str())
                    .collect();
                if !files.iter().any(|f| found_in(roots, f, value).is_ok()) {
                    bad.borrow_mut().push(format!(
                        "dependency {} {}: {value:?} in none of {files:?}",
                        dep.component, dep.service
                    ));
                }
            }
        }
    }
    for s in &d.secrets {
        check(
            format!("secret {}", s.secret),
            &s.evidence.file,
            &s.evidence.text,
        );
    }
    for r in &d.requirements {
        check(
            format!("requirement {} {}", r.subject, r.measure),
            &r.evidence.file,
            &r.evidence.text,
        );
    }
    bad.into_inner()
}

#[test]
fn every_row_of_the_dossiers_is_found_in_the_file_it_cites() {
    let repo = repo_root();
    let cases = [
        (repo.clone(), "orthense", Some("nightly")),
        (repo.clone(), "orthense", Some("prod")),
        (repo.clone(), "orthense", None),
        (repo.clone(), "orthense-demo", Some("nightly")),
        (repo.clone(), "vao-demo", None),
        (fixture_root(), "agenda", None),
    ];
    for (root, product, env) in cases {
        let d = match env {
            Some(e) => dossier_at(&root, product, e),
            None => {
                let catalog = catalog_at(&root);
                let p = catalog.product(product).unwrap();
                merge_environments(
                    p.environments
                        .values()
                        .map(|def| {
                            let input = Input {
                                repo_root: &root,
                                product: p,
                                environment: def,
                                environment_name: def.name.as_str(),
                                run: None,
                            };
                            (def.name.to_string(), dossier::build(&input))
                        })
                        .collect(),
                )
            }
        };
        assert!(
            d.flows.len() > 5 && !d.dependencies.is_empty(),
            "{product}: too few facts to mean anything"
        );
        let bad = cross_check(&d, &[root.clone(), repo.clone()]);
        assert!(
            bad.is_empty(),
            "{product} {env:?}: rows not found in their files:\n{}",
            bad.join("\n")
        );
        assert!(d.warnings.is_empty(), "{product}: {:?}", d.warnings);
    }
}

#[test]
fn versions_and_skus_come_from_the_stacks_per_environment() {
    let repo = repo_root();
    let catalog = catalog_at(&repo);
    let p = catalog.product("orthense").unwrap();
    let d = merge_environments(
        p.environments
            .values()
            .map(|def| {
                let input = Input {
                    repo_root: &repo,
                    product: p,
                    environment: def,
                    environment_name: def.name.as_str(),
                    run: None,
                };
                (def.name.to_string(), dossier::build(&input))
            })
            .collect(),
    );
    let version = |component: &str, service: &str| -> String {
        d.dependencies
            .iter()
            .find(|x| x.component == component && x.service.contains(service))
            .and_then(|x| x.version.clone())
            .unwrap_or_else(|| panic!("{component} {service} missing"))
    };
    assert_eq!(
        version("foundation", "App Service plan"),
        "B1 (nightly, pr, main) / S1 (recette) / P1v3 (prod)"
    );
    assert_eq!(version("data-mongo", "MongoDB server version"), "7.0");
    assert_eq!(version("data-sql", "SQL Server version"), "12.0");
    assert_eq!(
        version("data-sql", "Azure SQL database"),
        "GP_S_Gen5_1 (nightly, pr) / GP_S_Gen5_2 (main, recette, prod)"
    );
    assert_eq!(version("api-medical", ".NET"), "8.0");
    assert_eq!(
        version("spas.pro", "SKU"),
        "Free (nightly, pr) / Standard (main, recette, prod)"
    );
    assert_eq!(
        version("Terraform", "provider hashicorp/azurerm"),
        "~> 4.73"
    );
    assert_eq!(version("runner image", "community.general"), "11.4.2");
    assert_eq!(version("runner image", "terraform"), "1.11.4");
    let collections: Vec<&str> = d
        .data
        .iter()
        .filter(|x| x.kind == "MongoDB collection")
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(
        collections,
        vec![
            "audit",
            "consultations",
            "documents",
            "patients",
            "questionnaires"
        ]
    );
    let md = markdown::render(&d, Lang::Fr);
    assert!(
        md.contains("## Exigences générales") && md.contains("### Matrice des flux"),
        "the template's headings"
    );
    assert!(
        md.contains("`sendgrid-api-key`"),
        "secrets by their Key Vault name"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        // Follows symlinks (variables.standard.tf), as Terraform does.
        if std::fs::metadata(e.path()).unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn removing_an_edge_from_a_stack_removes_it_from_the_matrix() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let repo = repo_root();
    copy_dir(&repo.join("terraform"), &root.join("terraform"));
    std::fs::create_dir_all(root.join("catalog")).unwrap();
    std::fs::copy(
        repo.join("catalog/orthense.yaml"),
        root.join("catalog/orthense.yaml"),
    )
    .unwrap();
    let before = dossier_at(root, "orthense", "nightly");
    assert!(has_flow(
        &before,
        "api-medical",
        "data-mongo",
        "TLS (MongoDB)",
        Some(10255)
    ));

    // The medical API loses its MongoDB connection string.
    let main = root.join("terraform/stacks/orthense/api-medical/main.tf");
    let text = std::fs::read_to_string(&main).unwrap();
    // Every setting that names the database goes: its connection string and its database name.
    let edited: String = text
        .lines()
        .filter(|l| !l.contains("ConnectionStrings__Mongo") && !l.contains("Mongo__DatabaseName"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text, edited);
    std::fs::write(&main, edited).unwrap();

    let after = dossier_at(root, "orthense", "nightly");
    assert!(
        !has_flow(
            &after,
            "api-medical",
            "data-mongo",
            "TLS (MongoDB)",
            Some(10255)
        ),
        "{:#?}",
        flows_text(&after)
    );
    assert!(
        has_flow(
            &after,
            "api-medical",
            "foundation.key-vault",
            "HTTPS",
            Some(443)
        ),
        "its other references stay"
    );
    assert!(!after
        .secrets
        .iter()
        .any(|s| s.consumer == "api-medical" && s.secret == "mongo-connection-string"));
    let d = nightshift_core::dossier::diff::diff(&before, &after);
    assert_eq!(
        d.flows_removed,
        vec!["api-medical -> data-mongo (TLS (MongoDB) 10255)"]
    );
}

#[test]
fn a_postgresql_node_product_with_external_apis_needs_no_code_change() {
    let d = dossier_at(&fixture_root(), "agenda", "nightly");
    assert!(
        has_flow(&d, "api", "db", "TLS (PostgreSQL)", Some(5432)),
        "{:#?}",
        flows_text(&d)
    );
    for ext in ["api-entreprise", "api-insee", "api-adresse"] {
        assert!(has_flow(&d, "api", ext, "HTTPS", Some(443)), "{ext}");
    }
    assert!(has_flow(
        &d,
        "api",
        "smtp-relay",
        "SMTP (STARTTLS)",
        Some(587)
    ));
    let version = |service: &str| {
        d.dependencies
            .iter()
            .find(|x| x.service.contains(service))
            .and_then(|x| x.version.clone())
    };
    assert_eq!(version("PostgreSQL version").as_deref(), Some("16"));
    assert_eq!(version("Node.js").as_deref(), Some("20-lts"));
    assert!(d
        .secrets
        .iter()
        .any(|s| s.consumer == "api" && s.setting == "DATABASE_URL" && s.secret == "database-url"));
    assert_eq!(
        d.repository.as_deref(),
        Some("https://example.org/agenda.git")
    );
}

#[test]
fn a_dossier_written_twice_from_the_same_files_is_the_same_bytes() {
    let a = markdown::render(&dossier_at(&repo_root(), "orthense", "nightly"), Lang::Fr);
    let b = markdown::render(&dossier_at(&repo_root(), "orthense", "nightly"), Lang::Fr);
    assert_eq!(a, b);
}
