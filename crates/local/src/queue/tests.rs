use super::*;
use nightshift_core::ports::{Bus, OutboundMessage};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration as StdDuration;

/// A clock the test moves by hand.
pub(crate) struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new("2030-01-01T00:00:00Z".parse().unwrap())))
    }
    pub(crate) fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

const LOCK: StdDuration = StdDuration::from_secs(30);

fn queue() -> (tempfile::TempDir, DiskQueue, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let options = QueueOptions {
        max_delivery_count: 3,
        clock: clock.clone(),
        ..QueueOptions::default()
    };
    let q = DiskQueue::open(dir.path().join("q"), options).unwrap();
    (dir, q, clock)
}

#[test]
fn messages_are_received_in_order_with_increasing_sequence_numbers() {
    let (_d, q, _c) = queue();
    q.send(NewMessage::new("a", "1")).unwrap();
    q.send(NewMessage::new("b", "2")).unwrap();
    let first = q.receive(LOCK).unwrap().unwrap();
    let second = q.receive(LOCK).unwrap().unwrap();
    assert_eq!((first.body.as_str(), second.body.as_str()), ("a", "b"));
    assert!(first.sequence_number < second.sequence_number);
    assert_eq!(first.delivery_count, 1);
    assert!(q.receive(LOCK).unwrap().is_none());
}

#[test]
fn a_repeated_message_id_inside_the_window_is_accepted_and_dropped() {
    let (_d, q, clock) = queue();
    assert!(matches!(
        q.send(NewMessage::new("a", "id")).unwrap(),
        SendOutcome::Enqueued { .. }
    ));
    assert_eq!(
        q.send(NewMessage::new("a", "id")).unwrap(),
        SendOutcome::Duplicate
    );
    assert_eq!(q.len().unwrap(), 1);
    clock.advance(Duration::minutes(11));
    assert!(matches!(
        q.send(NewMessage::new("a", "id")).unwrap(),
        SendOutcome::Enqueued { .. }
    ));
}

#[test]
fn a_completed_message_is_gone_and_still_deduplicated() {
    let (_d, q, _c) = queue();
    q.send(NewMessage::new("a", "id")).unwrap();
    let m = q.receive(LOCK).unwrap().unwrap();
    q.complete(&m.lock_token).unwrap();
    assert!(q.is_empty().unwrap());
    assert_eq!(
        q.send(NewMessage::new("a", "id")).unwrap(),
        SendOutcome::Duplicate
    );
    assert!(matches!(
        q.complete(&m.lock_token),
        Err(PortError::Conflict(_))
    ));
}

#[test]
fn a_scheduled_message_is_invisible_until_its_time() {
    let (_d, q, clock) = queue();
    let mut m = NewMessage::new("later", "1");
    m.scheduled_at = Some(clock.now() + Duration::seconds(30));
    q.send(m).unwrap();
    assert!(q.receive(LOCK).unwrap().is_none());
    clock.advance(Duration::seconds(30));
    assert_eq!(q.receive(LOCK).unwrap().unwrap().body, "later");
}

#[test]
fn a_locked_message_reappears_when_its_lock_expires_with_a_higher_delivery_count() {
    let (_d, q, clock) = queue();
    q.send(NewMessage::new("a", "1")).unwrap();
    let first = q.receive(LOCK).unwrap().unwrap();
    assert!(q.receive(LOCK).unwrap().is_none());
    clock.advance(Duration::seconds(31));
    let again = q.receive(LOCK).unwrap().unwrap();
    assert_eq!(again.delivery_count, 2);
    assert_ne!(again.lock_token, first.lock_token);
    assert!(matches!(
        q.complete(&first.lock_token),
        Err(PortError::Conflict(_))
    ));
    q.complete(&again.lock_token).unwrap();
}

#[test]
fn an_abandoned_message_is_visible_again_at_once() {
    let (_d, q, _c) = queue();
    q.send(NewMessage::new("a", "1")).unwrap();
    let m = q.receive(LOCK).unwrap().unwrap();
    q.abandon(&m.lock_token).unwrap();
    assert_eq!(q.receive(LOCK).unwrap().unwrap().delivery_count, 2);
}

#[test]
fn a_message_delivered_the_maximum_number_of_times_is_dead_lettered() {
    let (_d, q, clock) = queue();
    q.send(NewMessage::new("poison", "1")).unwrap();
    for n in 1..=3 {
        let m = q.receive(LOCK).unwrap().unwrap();
        assert_eq!(m.delivery_count, n);
        if n < 3 {
            q.abandon(&m.lock_token).unwrap();
        }
    }
    // The third lock expires: the next receive dead-letters instead of delivering a fourth time.
    clock.advance(Duration::seconds(31));
    assert!(q.receive(LOCK).unwrap().is_none());
    let dead = q.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, MAX_DELIVERY_COUNT_EXCEEDED);
    assert_eq!(dead[0].message.body, "poison");
    assert!(q.is_empty().unwrap());
}

#[test]
fn abandoning_the_last_allowed_delivery_dead_letters_at_once() {
    let (_d, q, _c) = queue();
    q.send(NewMessage::new("poison", "1")).unwrap();
    for _ in 0..3 {
        let m = q.receive(LOCK).unwrap().unwrap();
        q.abandon(&m.lock_token).unwrap();
    }
    assert_eq!(q.dead_letters().unwrap().len(), 1);
    assert!(q.peek_all().unwrap().is_empty());
}

#[test]
fn concurrent_senders_get_distinct_sequence_numbers() {
    let (_d, q, _c) = queue();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    q.send(NewMessage::new("x", format!("{t}-{i}"))).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let seqs: Vec<u64> = q
        .peek_all()
        .unwrap()
        .iter()
        .map(|m| m.sequence_number)
        .collect();
    assert_eq!(seqs, (1..=80).collect::<Vec<_>>());
}

#[test]
fn a_corrupt_message_file_is_dead_lettered_with_its_reason_and_the_queue_goes_on() {
    let (_d, q, _c) = queue();
    q.send(NewMessage::new("a", "1")).unwrap();
    q.send(NewMessage::new("b", "2")).unwrap();
    let first = q.message_path("messages", 1);
    std::fs::write(&first, b"{\"sequence_number\": 1, \"body\": trunc").unwrap();

    let got = q
        .receive(LOCK)
        .unwrap()
        .expect("the next message is delivered");

    assert_eq!(got.body, "b");
    let dead = q.dead_letters().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].reason, CORRUPT_MESSAGE);
    assert!(
        dead[0].description.contains("00000000000000000001.json"),
        "{}",
        dead[0].description
    );
    assert!(
        dead[0].message.body.contains("trunc"),
        "the bytes are kept for a look"
    );
    assert!(!first.exists());
    assert_eq!(
        q.peek_all().unwrap().len(),
        1,
        "peeking skips nothing that is valid"
    );
}

#[test]
fn a_garbled_sequence_file_recovers_from_the_highest_message_present_and_overwrites_nothing() {
    let (_d, q, _c) = queue();
    for i in 1..=3 {
        q.send(NewMessage::new(format!("m{i}"), i.to_string()))
            .unwrap();
    }
    std::fs::write(q.dir().join("sequence"), b"\x00garbage").unwrap();

    let sent = q.send(NewMessage::new("m4", "4")).unwrap();

    assert_eq!(sent, SendOutcome::Enqueued { sequence_number: 4 });
    let bodies: Vec<String> = q.peek_all().unwrap().into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, ["m1", "m2", "m3", "m4"]);
}

#[test]
fn a_sequence_file_behind_the_messages_present_never_makes_a_send_overwrite_one() {
    let (_d, q, _c) = queue();
    for i in 1..=3 {
        q.send(NewMessage::new(format!("m{i}"), i.to_string()))
            .unwrap();
    }
    // Restored from an older copy, say.
    std::fs::write(q.dir().join("sequence"), b"1").unwrap();

    let sent = q.send(NewMessage::new("m4", "4")).unwrap();

    assert_eq!(sent, SendOutcome::Enqueued { sequence_number: 4 });
    let bodies: Vec<String> = q.peek_all().unwrap().into_iter().map(|m| m.body).collect();
    assert_eq!(bodies, ["m1", "m2", "m3", "m4"]);
}

/// A queue directory as the earlier layout wrote it: each message's state inside its file, one `dedupe.json`,
/// no state directories.
fn legacy_queue(dir: &Path, messages: &[QueuedMessage], dedupe: &[u8]) {
    std::fs::create_dir_all(dir.join("messages")).unwrap();
    std::fs::create_dir_all(dir.join("deadletter")).unwrap();
    for m in messages {
        std::fs::write(
            dir.join("messages")
                .join(format!("{:020}.json", m.sequence_number)),
            serde_json::to_vec_pretty(m).unwrap(),
        )
        .unwrap();
    }
    let last = messages
        .iter()
        .map(|m| m.sequence_number)
        .max()
        .unwrap_or(0);
    std::fs::write(dir.join("sequence"), last.to_string()).unwrap();
    std::fs::write(dir.join("dedupe.json"), dedupe).unwrap();
}

fn legacy_message(seq: u64, id: &str, at: DateTime<Utc>) -> QueuedMessage {
    QueuedMessage {
        sequence_number: seq,
        message_id: id.into(),
        correlation_id: None,
        body: format!("body-{id}"),
        enqueued_at: at,
        scheduled_at: None,
        delivery_count: 0,
        lock_token: None,
        locked_until: None,
    }
}

fn options(clock: &Arc<ManualClock>) -> QueueOptions {
    QueueOptions {
        max_delivery_count: 3,
        clock: clock.clone(),
        ..QueueOptions::default()
    }
}

#[test]
fn a_garbled_dedupe_file_is_set_aside_and_rebuilt_from_the_messages_present() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let path = dir.path().join("q");
    legacy_queue(
        &path,
        &[legacy_message(1, "queued-1", clock.now())],
        b"{not json",
    );
    let q = DiskQueue::open(&path, options(&clock)).unwrap();

    let again = q.send(NewMessage::new("a", "queued-1")).unwrap();

    assert_eq!(
        again,
        SendOutcome::Duplicate,
        "a repeat of a queued message is still dropped"
    );
    assert_eq!(q.len().unwrap(), 1);
    let kept: Vec<String> = std::fs::read_dir(q.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("dedupe.json.corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "the garbled file is kept for a look");
    assert!(
        !q.dir().join("dedupe.json").exists(),
        "rebuilt into the buckets"
    );
    assert_eq!(q.remembered_ids().unwrap(), 1);
}

#[test]
fn a_queue_directory_of_the_earlier_layout_is_migrated_with_every_message_in_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let now = clock.now();
    let path = dir.path().join("q");
    let ready = QueuedMessage {
        delivery_count: 1,
        ..legacy_message(1, "ready", now)
    };
    let locked = QueuedMessage {
        delivery_count: 1,
        lock_token: Some("held-token".into()),
        locked_until: Some(now + Duration::seconds(20)),
        ..legacy_message(2, "locked", now)
    };
    let scheduled = QueuedMessage {
        scheduled_at: Some(now + Duration::seconds(40)),
        ..legacy_message(3, "scheduled", now)
    };
    let dedupe = serde_json::to_vec(&BTreeMap::from([
        ("completed".to_string(), now - Duration::minutes(1)),
        ("long-ago".to_string(), now - Duration::minutes(30)),
    ]))
    .unwrap();
    legacy_queue(&path, &[ready, locked, scheduled], &dedupe);
    // A migration that died part-way left its staging directory and one state directory behind.
    std::fs::create_dir_all(path.join(".migrate/ready")).unwrap();
    std::fs::create_dir_all(path.join("scheduled")).unwrap();
    std::fs::write(
        path.join("scheduled/00000000000000000001_00000000000000000009_0"),
        b"",
    )
    .unwrap();

    let q = DiskQueue::open(&path, options(&clock)).unwrap();

    assert_eq!(q.len().unwrap(), 3);
    assert!(!path.join(".migrate").exists());
    let first = q.receive(LOCK).unwrap().unwrap();
    assert_eq!(
        (first.body.as_str(), first.delivery_count),
        ("body-ready", 2)
    );
    assert!(
        q.receive(LOCK).unwrap().is_none(),
        "locked and scheduled stay invisible"
    );
    q.complete("held-token").unwrap();
    q.complete(&first.lock_token).unwrap();
    clock.advance(Duration::seconds(40));
    assert_eq!(q.receive(LOCK).unwrap().unwrap().body, "body-scheduled");
    assert_eq!(
        q.send(NewMessage::new("x", "completed")).unwrap(),
        SendOutcome::Duplicate,
        "an id seen inside the window is still a duplicate"
    );
    assert!(matches!(
        q.send(NewMessage::new("x", "long-ago")).unwrap(),
        SendOutcome::Enqueued { .. }
    ));
    assert!(!path.join("dedupe.json").exists());
    let seqs: Vec<u64> = q
        .peek_all()
        .unwrap()
        .iter()
        .map(|m| m.sequence_number)
        .collect();
    assert_eq!(
        seqs,
        [3, 4],
        "a send after the migration goes on from the sequence"
    );
}

#[test]
fn a_receive_reads_only_the_message_it_delivers() {
    let (_d, q, _c) = queue();
    for i in 1..=3 {
        q.send(NewMessage::new(format!("m{i}"), i.to_string()))
            .unwrap();
    }
    // Files the receive has no business reading: it would dead-letter them if it parsed them.
    for seq in [2, 3] {
        std::fs::write(q.message_path("messages", seq), b"garbage").unwrap();
    }

    assert_eq!(q.receive(LOCK).unwrap().unwrap().body, "m1");

    assert!(q.dead_letters().unwrap().is_empty());
    assert_eq!(q.len().unwrap(), 3);
}

#[test]
fn duplicate_detection_spans_one_window_across_buckets_and_keeps_at_most_two_windows_of_ids() {
    let (_d, q, clock) = queue();
    clock.advance(Duration::minutes(5));
    q.send(NewMessage::new("b", "b")).unwrap();
    clock.advance(Duration::minutes(9));
    assert_eq!(
        q.send(NewMessage::new("b", "b")).unwrap(),
        SendOutcome::Duplicate,
        "seen 9 minutes ago, in the bucket before"
    );
    clock.advance(Duration::minutes(2));
    assert!(
        matches!(
            q.send(NewMessage::new("b", "b")).unwrap(),
            SendOutcome::Enqueued { .. }
        ),
        "seen 11 minutes ago: outside the window"
    );

    for window in 0..5 {
        for i in 0..20 {
            q.send(NewMessage::new("x", format!("w{window}-{i}")))
                .unwrap();
        }
        clock.advance(Duration::minutes(10));
    }
    q.send(NewMessage::new("x", "last")).unwrap();

    let kept = q.remembered_ids().unwrap();
    assert!(kept <= 41, "{kept} ids kept: at most two windows of them");
    let buckets = std::fs::read_dir(q.dir().join("dedupe")).unwrap().count();
    assert_eq!(buckets, 2);
}

#[test]
fn a_stray_file_among_the_state_markers_is_dead_lettered_and_the_queue_goes_on() {
    let (_d, q, _c) = queue();
    q.send(NewMessage::new("a", "1")).unwrap();
    std::fs::write(q.dir().join("ready/notes.txt"), b"left here by hand").unwrap();

    assert_eq!(q.receive(LOCK).unwrap().unwrap().body, "a");

    let dead = q.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, CORRUPT_MESSAGE);
    assert!(
        dead[0].description.contains("ready/notes.txt"),
        "{}",
        dead[0].description
    );
    assert!(dead[0].message.body.contains("left here by hand"));
}

#[tokio::test]
async fn the_local_bus_sends_to_the_named_queue() {
    let dir = tempfile::tempdir().unwrap();
    let bus = LocalBus::new(dir.path(), QueueOptions::default());
    bus.send(OutboundMessage {
        queue: "steps".into(),
        body: "{}".into(),
        message_id: "m1".into(),
        correlation_id: Some("run-1".into()),
        scheduled_at: None,
    })
    .await
    .unwrap();
    let m = bus.queue("steps").unwrap().receive(LOCK).unwrap().unwrap();
    assert_eq!(m.correlation_id.as_deref(), Some("run-1"));
    assert!(bus.queue("../x").is_err());
}

#[test]
fn a_message_file_without_a_marker_is_delivered_and_a_corrupt_one_dead_lettered_once_nothing_else_is_visible(
) {
    let (_d, q, clock) = queue();
    q.send(NewMessage::new("queued", "1")).unwrap();
    // A send that died after writing its message, and a file put there by hand.
    let orphan = legacy_message(7, "orphan", clock.now());
    std::fs::write(
        q.message_path("messages", 7),
        serde_json::to_vec(&orphan).unwrap(),
    )
    .unwrap();
    std::fs::write(q.message_path("messages", 8), b"{\"cut").unwrap();

    assert_eq!(q.receive(LOCK).unwrap().unwrap().body, "queued");
    assert!(
        q.dead_letters().unwrap().is_empty(),
        "not looked at while a message is visible"
    );
    let adopted = q.receive(LOCK).unwrap().unwrap();

    assert_eq!(
        (adopted.body.as_str(), adopted.delivery_count),
        ("body-orphan", 1)
    );
    let dead = q.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, CORRUPT_MESSAGE);
    assert!(
        dead[0].description.contains("00000000000000000008.json"),
        "{}",
        dead[0].description
    );
    assert!(q.receive(LOCK).unwrap().is_none());
}
