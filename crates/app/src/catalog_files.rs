//! Reads the catalog directory, and the one validation every command that acts runs first: the core's (the YAML,
//! the DAG, the templates), then the files the catalog names. A stack and a playbook are paths relative to the
//! repository root that must stay inside it: not absolute, no `..`, and, where the repository is at hand, resolving
//! (symlinks followed) to a directory (a stack) or a file (a playbook) inside it. `validate`, `up`, the handler's
//! use cases that plan, and the sweep all call [`load_validated`]; the runner resolves each path again with
//! [`resolve_in_repo`] before it runs anything. A failure names the catalog file and the field, and never quotes a
//! file's content.

use nightshift_core::catalog::{Action, Catalog, CatalogError};
use std::path::{Component, Path, PathBuf};

/// Reads every `*.yaml`/`*.yml` file of the directory (sorted) and validates the whole catalog.
pub fn load(dir: &Path) -> Result<Catalog, CatalogError> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| CatalogError {
        file: shown.clone(),
        field: String::new(),
        message: format!(
            "cannot read the catalog directory ({e}): pass --catalog DIR or set NIGHTSHIFT_CATALOG"
        ),
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(CatalogError {
            file: shown,
            field: String::new(),
            message: "no *.yaml file: the catalog is empty".into(),
        });
    }
    let mut files = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| CatalogError {
            file: p.display().to_string(),
            field: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        files.push((p.display().to_string(), text));
    }
    Catalog::parse_files(&files)
}

/// What a catalog path must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Terraform stack.
    Directory,
    /// An Ansible playbook.
    File,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Directory => "a directory",
            Kind::File => "a file",
        }
    }
}

/// The shape of a path the catalog names: relative, no `..`, not empty. Pure: it needs no repository.
pub fn check_shape(path: &str) -> Result<(), String> {
    if path.trim().is_empty() {
        return Err("is empty: give a path relative to the repository root".into());
    }
    let p = Path::new(path);
    if p.is_absolute() || path.starts_with('~') {
        return Err(format!(
            "{path:?} is not relative: give a path inside the repository, relative to its root (NIGHTSHIFT_REPO_ROOT)"
        ));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!(
            "{path:?} contains '..': give a path inside the repository, relative to its root (NIGHTSHIFT_REPO_ROOT)"
        ));
    }
    Ok(())
}

/// Resolves a catalog path inside the repository: its shape, then the real path (symlinks followed), which must
/// exist, be of the right kind and lie inside the repository. The error says which rule failed, never what the
/// file holds.
pub fn resolve_in_repo(root: &Path, path: &str, kind: Kind) -> Result<PathBuf, String> {
    check_shape(path)?;
    let root = root.canonicalize().map_err(|e| {
        format!(
            "cannot read the repository root {} ({e}): set NIGHTSHIFT_REPO_ROOT",
            root.display()
        )
    })?;
    let real = match root.join(path).canonicalize() {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{path:?} does not exist in the repository ({})",
                root.display()
            ))
        }
        Err(e) => return Err(format!("{path:?} cannot be resolved ({e})")),
    };
    if !real.starts_with(&root) {
        return Err(format!(
            "{path:?} resolves outside the repository ({}): a symbolic link must point inside it",
            root.display()
        ));
    }
    let right_kind = match kind {
        Kind::Directory => real.is_dir(),
        Kind::File => real.is_file(),
    };
    if !right_kind {
        return Err(format!("{path:?} is not {}", kind.noun()));
    }
    Ok(real)
}

/// The stacks and playbooks of the catalog: with the repository at hand (`Some(root)`), each must resolve inside
/// it; without it (the Functions package carries no stacks), only their shape is checked here and the runner
/// resolves them. Every problem, in catalog order.
pub fn check_files(catalog: &Catalog, repo_root: Option<&Path>) -> Vec<CatalogError> {
    let mut problems = Vec::new();
    for p in catalog.products.values() {
        for st in p.steps.values() {
            let (field, path, kind) = match &st.action {
                Action::Terraform { stack, .. } => ("terraform.stack", stack, Kind::Directory),
                Action::Ansible { playbook, .. } => ("ansible.playbook", playbook, Kind::File),
                Action::Smoke { .. } => continue,
            };
            let checked = match repo_root {
                Some(root) => resolve_in_repo(root, path, kind).map(|_| ()),
                None => check_shape(path),
            };
            if let Err(message) = checked {
                problems.push(CatalogError {
                    file: p.source.clone(),
                    field: format!("steps.{}.{field}", st.name),
                    message,
                });
            }
        }
    }
    problems
}

/// The whole validation, as `nightshift validate` runs it: the catalog, then the files it names (see
/// [`check_files`]). Nothing may be created before it passes. Every problem found.
pub fn load_validated(dir: &Path, repo_root: Option<&Path>) -> Result<Catalog, Vec<CatalogError>> {
    let catalog = load(dir).map_err(|e| vec![e])?;
    let problems = check_files(&catalog, repo_root);
    if problems.is_empty() {
        Ok(catalog)
    } else {
        Err(problems)
    }
}

/// The first problem, saying how many more there are: for callers that report one error.
pub fn first_problem(mut problems: Vec<CatalogError>) -> CatalogError {
    let more = problems.len().saturating_sub(1);
    let mut first = problems.remove(0);
    if more > 0 {
        first.message = format!(
            "{} (and {more} more problem{}: run nightshift validate)",
            first.message,
            if more == 1 { "" } else { "s" }
        );
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with a stack, a playbook, and links pointing in and out.
    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("terraform/app")).unwrap();
        std::fs::create_dir_all(root.join("seeds")).unwrap();
        std::fs::write(root.join("seeds/seed.yml"), "- hosts: localhost\n").unwrap();
        std::os::unix::fs::symlink("/tmp", root.join("terraform/escape")).unwrap();
        std::os::unix::fs::symlink(root.join("terraform/app"), root.join("terraform/alias"))
            .unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("seeds/passwd.yml")).unwrap();
        dir
    }

    fn catalog(root: &Path, stack: &str, playbook: &str) -> Catalog {
        let yaml = format!(
            "schema: nightshift.catalog/v1\nproduct: shop\nplatform: local\nsteps:\n  infra:\n    terraform: {{ stack: {stack:?} }}\n  seed:\n    needs: [infra]\n    ansible: {{ playbook: {playbook:?} }}\nenvironments:\n  pr: {{ kind: pull-request }}\n"
        );
        std::fs::create_dir_all(root.join("catalog")).unwrap();
        std::fs::write(root.join("catalog/shop.yaml"), yaml).unwrap();
        load(&root.join("catalog")).unwrap()
    }

    #[test]
    fn stacks_and_playbooks_inside_the_repository_pass_symlinks_included() {
        let dir = repo();
        let c = catalog(dir.path(), "terraform/alias", "seeds/seed.yml");
        assert!(check_files(&c, Some(dir.path())).is_empty());
    }

    #[test]
    fn a_path_outside_the_repository_is_refused_naming_the_file_and_field() {
        let dir = repo();
        for (stack, playbook, field, why) in [
            (
                "/etc",
                "seeds/seed.yml",
                "steps.infra.terraform.stack",
                "not relative",
            ),
            (
                "../../../../tmp",
                "seeds/seed.yml",
                "steps.infra.terraform.stack",
                "'..'",
            ),
            (
                "terraform/escape",
                "seeds/seed.yml",
                "steps.infra.terraform.stack",
                "outside the repository",
            ),
            (
                "terraform/app",
                "/etc/passwd",
                "steps.seed.ansible.playbook",
                "not relative",
            ),
            (
                "terraform/app",
                "seeds/passwd.yml",
                "steps.seed.ansible.playbook",
                "outside the repository",
            ),
            (
                "terraform/nowhere",
                "seeds/seed.yml",
                "steps.infra.terraform.stack",
                "does not exist",
            ),
            (
                "seeds/seed.yml",
                "seeds/seed.yml",
                "steps.infra.terraform.stack",
                "not a directory",
            ),
            (
                "terraform/app",
                "seeds",
                "steps.seed.ansible.playbook",
                "not a file",
            ),
        ] {
            let c = catalog(dir.path(), stack, playbook);
            let problems = check_files(&c, Some(dir.path()));
            assert_eq!(problems.len(), 1, "{stack} {playbook}: {problems:?}");
            let text = problems[0].to_string();
            assert!(
                text.contains("shop.yaml") && text.contains(field) && text.contains(why),
                "{stack} {playbook}: {text}"
            );
            assert!(!text.contains("root:"), "a file's content leaked: {text}");
        }
    }

    #[test]
    fn without_the_repository_the_shape_is_still_checked() {
        let dir = repo();
        let c = catalog(dir.path(), "/etc", "../x.yml");
        let problems = check_files(&c, None);
        assert_eq!(problems.len(), 2, "{problems:?}");
        let c = catalog(dir.path(), "terraform/not-here", "seeds/not-here.yml");
        assert!(
            check_files(&c, None).is_empty(),
            "existence needs the repository"
        );
    }

    #[test]
    fn the_whole_validation_reports_every_problem_and_the_first_says_how_many_more() {
        let dir = repo();
        catalog(dir.path(), "/etc", "/etc/passwd");
        let problems = load_validated(&dir.path().join("catalog"), Some(dir.path())).unwrap_err();
        assert_eq!(problems.len(), 2);
        let first = first_problem(problems).to_string();
        assert!(
            first.contains("and 1 more problem: run nightshift validate"),
            "{first}"
        );
    }
}
