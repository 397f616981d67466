//! BlobStore against Azurite (the real emulator).

use crate::azurite::{azurite, ACCOUNT, KEY};
use nightshift_azure::{BlobAuth, BlobStore, ReqwestTransport, Secret};
use nightshift_core::ports::{PortError, Precondition, Store};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A store on a fresh container of the shared Azurite, or `None` when Azurite is skipped.
async fn spawn_store() -> Option<BlobStore> {
    let az = azurite()?;
    let container = format!(
        "t{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let store = BlobStore::new(
        ACCOUNT,
        Some(&az.endpoint),
        &container,
        BlobAuth::Key(Secret::new(KEY)),
        Arc::new(ReqwestTransport::new()),
    );
    store.ensure_container().await.expect("create container");
    Some(store)
}

#[tokio::test]
async fn azurite_get_returns_the_bytes_and_etag_written_and_none_for_a_missing_key() {
    let Some(store) = spawn_store().await else {
        return;
    };

    assert_eq!(store.get("runs/missing.json").await.unwrap(), None);
    let v1 = store
        .put("runs/a.json", b"{\"n\":1}".to_vec(), Precondition::None)
        .await
        .unwrap();
    let got = store.get("runs/a.json").await.unwrap().unwrap();

    assert_eq!(got.bytes, b"{\"n\":1}");
    assert_eq!(got.version, v1);
    let empty = store
        .put("logs/empty.txt", Vec::new(), Precondition::None)
        .await
        .unwrap();
    let got = store.get("logs/empty.txt").await.unwrap().unwrap();
    assert!(got.bytes.is_empty());
    assert_eq!(got.version, empty);
}

#[tokio::test]
async fn azurite_a_write_at_a_stale_version_is_a_conflict_and_changes_nothing() {
    let Some(store) = spawn_store().await else {
        return;
    };
    let v1 = store
        .put("journal", b"one".to_vec(), Precondition::Absent)
        .await
        .unwrap();
    let v2 = store
        .put(
            "journal",
            b"two".to_vec(),
            Precondition::Version(v1.clone()),
        )
        .await
        .unwrap();

    let stale = store
        .put("journal", b"three".to_vec(), Precondition::Version(v1))
        .await;

    assert!(matches!(stale, Err(PortError::Conflict(_))), "{stale:?}");
    let now = store.get("journal").await.unwrap().unwrap();
    assert_eq!((now.bytes.as_slice(), now.version), (&b"two"[..], v2));
}

/// Appends one entry with the journal protocol: read, apply, write at the version read; on Conflict re-read.
async fn append(store: &BlobStore, key: &str, entry: String) -> u32 {
    let mut conflicts = 0;
    loop {
        let current = store.get(key).await.unwrap();
        let (mut entries, precondition) = match current {
            None => (Vec::new(), Precondition::Absent),
            Some(v) => (
                serde_json::from_slice::<Vec<String>>(&v.bytes).unwrap(),
                Precondition::Version(v.version),
            ),
        };
        entries.push(entry.clone());
        match store
            .put(key, serde_json::to_vec(&entries).unwrap(), precondition)
            .await
        {
            Ok(_) => return conflicts,
            Err(PortError::Conflict(_)) => conflicts += 1,
            Err(e) => panic!("append failed: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn azurite_many_concurrent_appends_to_one_run_journal_lose_nothing() {
    let Some(store) = spawn_store().await else {
        return;
    };
    let writers = 32;

    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                append(&store, "runs/r1/journal.json", format!("event-{i}")).await
            })
        })
        .collect();
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }

    let journal = store.get("runs/r1/journal.json").await.unwrap().unwrap();
    let mut entries: Vec<String> = serde_json::from_slice(&journal.bytes).unwrap();
    entries.sort();
    let mut expected: Vec<String> = (0..writers).map(|i| format!("event-{i}")).collect();
    expected.sort();
    assert_eq!(entries, expected);
    eprintln!("{writers} writers, {conflicts} conflicts re-applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_of_two_concurrent_creates_of_the_same_key_exactly_one_wins() {
    let Some(store) = spawn_store().await else {
        return;
    };

    for night in 0..5 {
        let key = format!("nightly/orthense/nightly/2025-01-0{night}");
        let (a, b) = tokio::join!(
            store.put(&key, b"scheduler-a".to_vec(), Precondition::Absent),
            store.put(&key, b"scheduler-b".to_vec(), Precondition::Absent),
        );

        let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "night {night}: {a:?} / {b:?}");
        let loser = if a.is_ok() { b } else { a };
        assert!(matches!(loser, Err(PortError::Conflict(_))), "{loser:?}");
    }
}

#[tokio::test]
async fn azurite_listing_follows_every_page_and_keeps_to_the_prefix() {
    let Some(store) = spawn_store().await else {
        return;
    };
    let store = store.with_page_size(3);
    for i in 0..11 {
        store
            .put(
                &format!("runs/r1/steps/s{i:02}/output.json"),
                b"{}".to_vec(),
                Precondition::None,
            )
            .await
            .unwrap();
    }
    store
        .put("runs/r10/journal.json", b"[]".to_vec(), Precondition::None)
        .await
        .unwrap();
    store
        .put("logs/r1.txt", b"".to_vec(), Precondition::None)
        .await
        .unwrap();

    let keys = store.list("runs/r1/").await.unwrap();

    let expected: Vec<String> = (0..11)
        .map(|i| format!("runs/r1/steps/s{i:02}/output.json"))
        .collect();
    assert_eq!(keys, expected);
    assert_eq!(store.list("runs/").await.unwrap().len(), 12);
}

#[tokio::test]
async fn azurite_deleting_a_missing_blob_is_fine_and_a_deleted_blob_is_gone() {
    let Some(store) = spawn_store().await else {
        return;
    };
    store
        .put("logs/job.txt", b"hello".to_vec(), Precondition::None)
        .await
        .unwrap();

    store.delete("logs/job.txt").await.unwrap();
    store.delete("logs/job.txt").await.unwrap();

    assert_eq!(store.get("logs/job.txt").await.unwrap(), None);
}

#[tokio::test]
async fn contract_a_store_on_a_closed_port_builds_without_io_and_fails_transient_on_use() {
    // Constructing performs no I/O: nothing listens on this port, yet building the store succeeds.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let store = BlobStore::new(
        ACCOUNT,
        Some(&format!("http://127.0.0.1:{port}/{ACCOUNT}")),
        "c",
        BlobAuth::Key(Secret::new(KEY)),
        Arc::new(ReqwestTransport::new()),
    );
    assert!(!format!("{store:?}").contains(KEY));

    let err = store.get("x").await.unwrap_err();

    assert!(matches!(err, PortError::Transient(_)), "{err:?}");
}

#[derive(Default)]
struct Capture(std::sync::Mutex<Vec<nightshift_azure::HttpRequest>>);

#[async_trait::async_trait]
impl nightshift_azure::HttpTransport for Capture {
    async fn send(
        &self,
        request: nightshift_azure::HttpRequest,
    ) -> Result<nightshift_azure::HttpResponse, nightshift_azure::TransportError> {
        self.0.lock().unwrap().push(request);
        let mut response = nightshift_azure::HttpResponse::new(404);
        response
            .headers
            .push(("x-ms-error-code".into(), "BlobNotFound".into()));
        Ok(response)
    }
}

#[tokio::test]
async fn contract_with_managed_identity_the_store_sends_a_storage_bearer_token_the_sdk_never_logs()
{
    let capture = Arc::new(Capture::default());
    let logs = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer({
            let logs = logs.clone();
            move || LogWriter(logs.clone())
        })
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let store = BlobStore::new(
        "nsstore",
        None,
        "runs",
        BlobAuth::Token(Arc::new(nightshift_azure::StaticToken::new(
            "storage-bearer-secret",
        ))),
        capture.clone(),
    );

    let got = store.get("runs/r1/journal.json").await.unwrap();

    assert_eq!(got, None);
    let sent = capture.0.lock().unwrap().clone();
    assert_eq!(
        sent[0].url,
        "https://nsstore.blob.core.windows.net/runs/runs/r1/journal.json"
    );
    assert_eq!(
        sent[0].header("authorization"),
        Some("Bearer storage-bearer-secret")
    );
    let written = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        written.contains("transport policy"),
        "the SDK's request log was captured"
    );
    assert!(!written.contains("storage-bearer-secret"));
}

/// A credential that gives no token, as a managed identity does off Azure; its message says what to do.
struct NoToken;

#[async_trait::async_trait]
impl nightshift_azure::TokenProvider for NoToken {
    async fn token(&self, resource: &str) -> Result<nightshift_azure::AccessToken, PortError> {
        Err(PortError::Permanent(format!(
            "managed identity credential gave no token for {resource}: no identity endpoint answered; \
             outside Azure set NIGHTSHIFT_CREDENTIAL=azure-cli"
        )))
    }
}

#[tokio::test]
async fn contract_a_store_whose_credential_gives_no_token_says_why_and_what_to_do_next() {
    // The SDK's retry policy wraps an error it will not retry in its own message ("non-io error occurred which
    // will not be retried"); the credential's reason must still reach the person reading the error.
    let capture = Arc::new(Capture::default());
    let store = BlobStore::new(
        "nsstore",
        None,
        "runs",
        BlobAuth::Token(Arc::new(NoToken)),
        capture.clone(),
    );

    let err = store
        .get("runs/r1/journal.json")
        .await
        .unwrap_err()
        .to_string();

    assert!(err.contains("blob get"), "{err}");
    assert!(
        err.contains("gave no token for https://storage.azure.com"),
        "{err}"
    );
    assert!(
        err.contains("outside Azure set NIGHTSHIFT_CREDENTIAL=azure-cli"),
        "{err}"
    );
    assert!(
        capture.0.lock().unwrap().is_empty(),
        "no request goes out without a token"
    );
}

struct LogWriter(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn azurite_an_append_blob_journal_takes_records_at_the_offsets_it_reports_and_reads_from_any_offset(
) {
    let Some(store) = spawn_store().await else {
        return;
    };
    let key = "runs/r1/journal.jsonl";
    assert_eq!(store.append(key, b"x\n".to_vec()).await.unwrap(), None);
    assert_eq!(store.read_from(key, 0).await.unwrap(), None);

    assert!(store
        .create_appendable(key, b"first\n".to_vec())
        .await
        .unwrap());
    assert!(!store
        .create_appendable(key, b"again\n".to_vec())
        .await
        .unwrap());
    let second = store.append(key, b"two\n".to_vec()).await.unwrap();
    let third = store.append(key, b"three\n".to_vec()).await.unwrap();

    assert_eq!((second, third), (Some(6), Some(10)));
    assert_eq!(
        store.read_from(key, 0).await.unwrap().unwrap(),
        b"first\ntwo\nthree\n"
    );
    assert_eq!(store.read_from(key, 10).await.unwrap().unwrap(), b"three\n");
    assert!(store.read_from(key, 16).await.unwrap().unwrap().is_empty());
    let err = store.append(key, b"no newline".to_vec()).await.unwrap_err();
    assert!(matches!(err, PortError::Permanent(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn azurite_concurrent_append_blocks_all_land_once_at_distinct_offsets_with_no_conflict() {
    let Some(store) = spawn_store().await else {
        return;
    };
    let key = "runs/r2/journal.jsonl";
    store
        .create_appendable(key, b"base\n".to_vec())
        .await
        .unwrap();

    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .append(key, format!("record-{i:02}\n").into_bytes())
                    .await
            })
        })
        .collect();
    let mut offsets = Vec::new();
    for t in tasks {
        offsets.push(t.await.unwrap().expect("no append fails").unwrap());
    }

    let text = String::from_utf8(store.read_from(key, 0).await.unwrap().unwrap()).unwrap();
    let mut lines: Vec<&str> = text.lines().skip(1).collect();
    lines.sort();
    let expected: Vec<String> = (0..32).map(|i| format!("record-{i:02}")).collect();
    assert_eq!(lines, expected);
    for at in &offsets {
        assert!(text[*at as usize..].starts_with("record-"), "{at}");
    }
    offsets.sort();
    offsets.dedup();
    assert_eq!(offsets.len(), 32);
}
