//! Output into a pipe whose reader has gone (`nightshift status | head -1` once `head` has its line): the command
//! finishes its work quietly, with the exit code it would have had, and never panics. Standard error closed too: an
//! error message that cannot be written changes nothing either.

use crate::cli_env::CliEnv;
use crate::helpers::{sh_step, shell_catalog};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

/// The write end of a pipe whose read end is already closed: every write to it fails with `EPIPE`.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    unsafe { libc::close(fds[0]) };
    Stdio::from(unsafe { OwnedFd::from_raw_fd(fds[1]) })
}

#[test]
fn a_command_whose_reader_closed_the_pipe_ends_quietly_with_its_own_exit_code() {
    let env = CliEnv::new(&shell_catalog(&sh_step("a", &[], "true")));
    // 0: an answer; 2: a refusal (not a run id), said on standard error.
    for (args, code) in [
        (&["status"][..], 0),
        (&["status", "--json"][..], 0),
        (&["environments"][..], 0),
        (&["environments", "--json"][..], 0),
        (&["validate"][..], 0),
        (&["plan", "--product", "demo"][..], 0),
        (&["logs", "nosuch.run"][..], 2),
    ] {
        let out = env
            .command(args)
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked"),
            "nightshift {args:?}: {stderr}"
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "nightshift {args:?}: {stderr}"
        );

        let status = env
            .command(args)
            .stdout(closed_pipe())
            .stderr(closed_pipe())
            .status()
            .unwrap();
        assert_eq!(
            status.code(),
            Some(code),
            "nightshift {args:?}, both closed"
        );
    }
}

#[test]
fn output_lost_for_another_reason_than_a_closed_pipe_fails_the_command_and_says_so() {
    let env = CliEnv::new(&shell_catalog(&sh_step("a", &[], "true")));
    // Every write to /dev/full fails with ENOSPC, as on a full disk.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();

    let out = env
        .command(&["status", "--json"])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot write to standard output"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
