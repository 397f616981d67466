//! `LocalSecrets`: the `Secrets` port as a directory of files, a local stand-in for Key Vault: secret `name` is the
//! file `<dir>/<name>` (one trailing newline is ignored). Errors name the secret and where to put it, never a value.

use crate::fsutil::{blocking, check_segment, io_error, write_atomic};
use async_trait::async_trait;
use nightshift_core::ports::{PortError, SecretValue, Secrets};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct LocalSecrets {
    dir: PathBuf,
}

impl LocalSecrets {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores a secret (for `nightshift up` and tests); the file is readable by its owner only.
    pub fn set(&self, name: &str, value: &SecretValue) -> Result<(), PortError> {
        use std::os::unix::fs::PermissionsExt;
        check_segment("secret name", name)?;
        let path = self.dir.join(name);
        write_atomic(&path, value.expose().as_bytes())
            .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)))
            .map_err(|e| io_error(format!("storing secret {name:?}"), e))
    }
}

#[async_trait]
impl Secrets for LocalSecrets {
    async fn get(&self, name: &str) -> Result<SecretValue, PortError> {
        check_segment("secret name", name)?;
        let path = self.dir.join(name);
        let name = name.to_string();
        blocking(move || match std::fs::read_to_string(&path) {
            Ok(mut value) => {
                if value.ends_with('\n') {
                    value.pop();
                    if value.ends_with('\r') {
                        value.pop();
                    }
                }
                Ok(SecretValue::new(value))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(PortError::Permanent(format!(
                    "secret {name:?} not found: put its value in the file {}",
                    path.display()
                )))
            }
            Err(e) => Err(io_error(format!("reading secret {name:?}"), e)),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_secret_is_read_from_its_file_without_the_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db-password"), "hunter2\n").unwrap();
        let secrets = LocalSecrets::new(dir.path());
        assert_eq!(
            secrets.get("db-password").await.unwrap().expose(),
            "hunter2"
        );
    }

    #[tokio::test]
    async fn a_missing_secret_names_itself_and_where_to_put_it() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = LocalSecrets::new(dir.path());
        let err = secrets.get("api-key").await.unwrap_err();
        let text = err.to_string();
        assert!(!err.is_retryable());
        assert!(text.contains("\"api-key\"") && text.contains(&dir.path().display().to_string()));
    }

    #[tokio::test]
    async fn a_stored_secret_reads_back_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = LocalSecrets::new(dir.path());
        secrets
            .set("token", &SecretValue::new("s3cret".into()))
            .unwrap();
        assert_eq!(secrets.get("token").await.unwrap().expose(), "s3cret");
        assert!(secrets.get("../token").await.is_err());
    }
}
