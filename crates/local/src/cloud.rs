//! `LocalCloud`: the `Cloud` port on a directory. A resource group is `<root>/resource-groups/<name>/`, its tags
//! in `tags.json` (a JSON object of strings), as docs/catalog.md describes for local Terraform stacks.

use crate::fsutil::{blocking, check_segment, io_error, write_atomic};
use async_trait::async_trait;
use nightshift_core::expiry::{tags, ResourceGroup};
use nightshift_core::ports::{Cloud, Deletion, PortError, TagUpdate};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Resource groups as directories under `<root>/resource-groups/`.
#[derive(Debug, Clone)]
pub struct LocalCloud {
    root: PathBuf,
}

impl LocalCloud {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn groups_dir(&self) -> PathBuf {
        self.root.join("resource-groups")
    }

    /// Creates (or re-tags) a group, as a local Terraform stack would.
    pub fn create_group(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), PortError> {
        check_segment("resource group name", name)?;
        let dir = self.groups_dir().join(name);
        let bytes = serde_json::to_vec_pretty(tags)
            .map_err(|e| PortError::Permanent(format!("serializing tags: {e}")))?;
        write_atomic(&dir.join("tags.json"), &bytes)
            .map_err(|e| io_error(format!("creating resource group {name}"), e))
    }

    /// Every group, sorted by name; one whose `tags.json` is missing or cannot be read is listed as unreadable,
    /// with the reason (the sweep keeps and reports it).
    pub fn list_all(&self) -> Result<Vec<ResourceGroup>, PortError> {
        let entries = match std::fs::read_dir(self.groups_dir()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("listing resource groups", e)),
        };
        let mut groups = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error("listing resource groups", e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.path().is_dir() {
                continue;
            }
            match read_tags(&entry.path().join("tags.json")) {
                Ok(tags) => groups.push(ResourceGroup::new(name, tags)),
                Err(why) => {
                    tracing::warn!(group = %name, "resource group tags unreadable: {why}");
                    groups.push(ResourceGroup::unreadable(name, why));
                }
            }
        }
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(groups)
    }
}

fn read_tags(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    tags::parse_json(&bytes).map_err(|e| format!("{} does not parse: {e}", path.display()))
}

#[async_trait]
impl Cloud for LocalCloud {
    /// Groups tagged as managed by `instance` (tag names in any case, as on Azure), plus groups whose tags cannot
    /// be read or are ambiguous (so the sweep reports and keeps them rather than stopping or missing them).
    async fn list_managed(&self, instance: &str) -> Result<Vec<ResourceGroup>, PortError> {
        let cloud = self.clone();
        let instance = instance.to_string();
        blocking(move || {
            let mut groups = cloud.list_all()?;
            groups.retain(|g| {
                g.unreadable.is_some()
                    || tags::read_known(&g.tags).map_or(true, |known| {
                        known.get(tags::MANAGED_BY) == Some(&instance.as_str())
                    })
            });
            Ok(groups)
        })
        .await
    }

    async fn delete_group(&self, name: &str) -> Result<Deletion, PortError> {
        check_segment("resource group name", name)?;
        let dir = self.groups_dir().join(name);
        let name = name.to_string();
        blocking(move || match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(Deletion::Deleted),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Deletion::AlreadyGone),
            Err(e) => Err(io_error(format!("deleting resource group {name}"), e)),
        })
        .await
    }

    /// Rewrites `tags.json` with these tags merged in (atomically: a reader sees the old tags or the new ones).
    async fn merge_tags(
        &self,
        group: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<TagUpdate, PortError> {
        check_segment("resource group name", group)?;
        let dir = self.groups_dir().join(group);
        let (group, tags) = (group.to_string(), tags.clone());
        blocking(move || {
            if !dir.is_dir() {
                return Ok(TagUpdate::GroupGone);
            }
            let path = dir.join("tags.json");
            // Unreadable tags are not guessed at: the sweep keeps such a group, and so does this.
            let mut current = match read_tags(&path) {
                Ok(t) => t,
                Err(why) => {
                    return Err(PortError::Permanent(format!(
                        "resource group {group}: tags not updated: {why}"
                    )))
                }
            };
            current.extend(tags);
            let bytes = serde_json::to_vec_pretty(&current)
                .map_err(|e| PortError::Permanent(format!("serializing tags: {e}")))?;
            write_atomic(&path, &bytes)
                .map_err(|e| io_error(format!("tagging resource group {group}"), e))?;
            Ok(TagUpdate::Updated)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(instance: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(tags::MANAGED_BY.to_string(), instance.to_string())])
    }

    #[tokio::test]
    async fn groups_managed_by_the_instance_are_listed_with_their_tags() {
        let dir = tempfile::tempdir().unwrap();
        let cloud = LocalCloud::new(dir.path());
        cloud.create_group("rg-b", &tagged("me")).unwrap();
        cloud.create_group("rg-a", &tagged("me")).unwrap();
        cloud
            .create_group("rg-other", &tagged("someone-else"))
            .unwrap();
        let groups = cloud.list_managed("me").await.unwrap();
        let names: Vec<_> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, vec!["rg-a", "rg-b"]);
        assert_eq!(groups[0].tags, tagged("me"));
    }

    #[tokio::test]
    async fn a_group_with_missing_or_broken_tags_is_listed_as_unreadable_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let cloud = LocalCloud::new(dir.path());
        std::fs::create_dir_all(dir.path().join("resource-groups/rg-bare")).unwrap();
        std::fs::create_dir_all(dir.path().join("resource-groups/rg-broken")).unwrap();
        std::fs::write(
            dir.path().join("resource-groups/rg-broken/tags.json"),
            "{nope",
        )
        .unwrap();
        let groups = cloud.list_managed("me").await.unwrap();
        assert_eq!(groups.len(), 2);
        assert!(groups.iter().all(|g| g.tags.is_empty()));
        assert!(groups[1]
            .unreadable
            .as_deref()
            .unwrap()
            .contains("does not parse"));
    }

    #[tokio::test]
    async fn tags_with_a_byte_order_mark_are_read_and_repeated_or_numeric_tags_are_unreadable() {
        // Issue 8, defect 9: these were ignored (empty tags) or read half (the last of two keys won).
        let dir = tempfile::tempdir().unwrap();
        let cloud = LocalCloud::new(dir.path());
        let write = |group: &str, text: &str| {
            let d = dir.path().join("resource-groups").join(group);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("tags.json"), text).unwrap();
        };
        write("rg-bom", "\u{feff}{\"nightshift-managed-by\":\"me\"}");
        write(
            "rg-dup",
            r#"{"nightshift-managed-by":"me","nightshift-kind":"persistent","nightshift-kind":"nightly"}"#,
        );
        write(
            "rg-num",
            r#"{"nightshift-managed-by":"me","nightshift-expires-at":1700000000}"#,
        );
        write("rg-case", r#"{"Nightshift-Managed-By":"me"}"#);
        let groups = cloud.list_managed("me").await.unwrap();
        let by_name = |n: &str| groups.iter().find(|g| g.name == n).unwrap();
        assert_eq!(by_name("rg-bom").tags, tagged("me"));
        assert!(by_name("rg-dup")
            .unreadable
            .as_deref()
            .unwrap()
            .contains("duplicate key"));
        assert!(by_name("rg-num")
            .unreadable
            .as_deref()
            .unwrap()
            .contains("not a string"));
        assert!(by_name("rg-case").unreadable.is_none());
    }

    #[tokio::test]
    async fn merging_tags_rewrites_only_the_given_tags_and_a_missing_group_is_reported_gone() {
        let dir = tempfile::tempdir().unwrap();
        let cloud = LocalCloud::new(dir.path());
        let mut t = tagged("me");
        t.insert(tags::EXPIRES_AT.into(), "2026-11-22T00:00:00Z".into());
        cloud.create_group("rg-a", &t).unwrap();
        let update = BTreeMap::from([(
            tags::EXPIRES_AT.to_string(),
            "2026-11-30T00:00:00Z".to_string(),
        )]);

        assert_eq!(
            cloud.merge_tags("rg-a", &update).await.unwrap(),
            TagUpdate::Updated
        );

        let groups = cloud.list_managed("me").await.unwrap();
        assert_eq!(groups[0].tags[tags::EXPIRES_AT], "2026-11-30T00:00:00Z");
        assert_eq!(groups[0].tags[tags::MANAGED_BY], "me", "other tags stay");
        assert_eq!(
            cloud.merge_tags("rg-gone", &update).await.unwrap(),
            TagUpdate::GroupGone
        );
        assert!(cloud.merge_tags("../etc", &update).await.is_err());
    }

    #[tokio::test]
    async fn listing_without_a_resource_groups_directory_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(LocalCloud::new(dir.path())
            .list_managed("me")
            .await
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn deleting_a_group_removes_its_directory_and_a_second_delete_finds_it_gone() {
        let dir = tempfile::tempdir().unwrap();
        let cloud = LocalCloud::new(dir.path());
        cloud.create_group("rg-a", &tagged("me")).unwrap();
        std::fs::write(dir.path().join("resource-groups/rg-a/app.txt"), "x").unwrap();
        assert_eq!(cloud.delete_group("rg-a").await.unwrap(), Deletion::Deleted);
        assert!(!dir.path().join("resource-groups/rg-a").exists());
        assert_eq!(
            cloud.delete_group("rg-a").await.unwrap(),
            Deletion::AlreadyGone
        );
        assert!(cloud.delete_group("../etc").await.is_err());
    }
}
