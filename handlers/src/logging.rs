//! The handler's log lines: information on stdout, errors only on stderr.
//!
//! The Functions host reads a custom handler's stdout as information and its stderr as errors
//! (`UseStdErrorStreamForErrorsOnly`, see the shared reference on custom handlers): a warning on stderr would show
//! up in Application Insights as an Error and page someone.

use tracing::Level;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Errors to `err`, everything else to `out`.
pub fn split<O, E>(out: O, err: E) -> impl for<'a> MakeWriter<'a> + Send + Sync + 'static
where
    O: for<'a> MakeWriter<'a> + Send + Sync + 'static,
    E: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    err.with_max_level(Level::ERROR)
        .or_else(out.with_min_level(Level::WARN))
}

/// Installs the handler's subscriber (level from `NIGHTSHIFT_LOG`, else `info`). A second call does nothing.
pub fn init() {
    let filter =
        EnvFilter::try_from_env("NIGHTSHIFT_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false)
        .with_writer(split(std::io::stdout, std::io::stderr))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn only_errors_go_to_stderr_and_information_and_warnings_to_stdout() {
        let (out, err) = (Buf::default(), Buf::default());
        let (o, e) = (out.clone(), err.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(Level::TRACE)
            .with_writer(split(move || o.clone(), move || e.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("listening");
            tracing::warn!("message rejected");
            tracing::error!("store unreachable");
        });
        let (out, err) = (out.text(), err.text());
        assert!(
            out.contains("listening") && out.contains("message rejected"),
            "{out}"
        );
        assert!(!out.contains("store unreachable"), "{out}");
        assert!(err.contains("store unreachable"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
