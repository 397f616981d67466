//! The handler's life under the host: starting it and waiting for its first answer, killing it (the test hook),
//! the supervisor that restarts a handler that died (with backoff, delivery paused meanwhile), and the release of
//! peek-locks a killed host left behind.

use super::*;

impl Inner {
    /// Waits until the handler is up (true) or `deadline` passes, the host stops, or the handler was killed on
    /// purpose (false).
    pub(super) async fn wait_up(&self, deadline: tokio::time::Instant) -> bool {
        let mut up = self.up_changed.subscribe();
        let mut stop = self.stopping.subscribe();
        loop {
            if self.handler_up.load(Ordering::SeqCst) {
                return true;
            }
            if self.stopping() || self.suspended.load(Ordering::SeqCst) {
                return false;
            }
            tokio::select! {
                r = tokio::time::timeout_at(deadline, up.changed()) => {
                    if !matches!(r, Ok(Ok(()))) {
                        return self.handler_up.load(Ordering::SeqCst);
                    }
                }
                _ = stop.changed() => return false,
            }
        }
    }

    /// The handler process runs and answers `GET /`.
    pub(super) async fn handler_answers(&self) -> bool {
        let running = {
            let mut slot = self.handler.lock().await;
            slot.as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
        };
        running
            && client::send(
                self.handler_port.load(Ordering::SeqCst),
                "GET",
                "/",
                &[],
                Vec::new(),
            )
            .await
            .is_ok()
    }

    /// Restarts the handler when its process has exited, with backoff, until the host stops.
    pub(super) async fn supervise(self: Arc<Self>) {
        let mut backoff = BACKOFF_FIRST;
        let mut up_since = tokio::time::Instant::now();
        let mut stop = self.stopping.subscribe();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(SUPERVISE_EVERY) => {}
                _ = stop.changed() => {}
            }
            if self.stopping() {
                return;
            }
            if self.suspended.load(Ordering::SeqCst) {
                continue;
            }
            let exited = {
                let mut slot = self.handler.lock().await;
                match slot.as_mut().map(|c| c.try_wait()) {
                    Some(Ok(None)) => None,
                    Some(Ok(Some(status))) => Some(status.to_string()),
                    Some(Err(e)) => Some(e.to_string()),
                    None => Some("not running".to_string()),
                }
            };
            let Some(why) = exited else {
                if up_since.elapsed() >= BACKOFF_RESET {
                    backoff = BACKOFF_FIRST;
                }
                continue;
            };
            self.set_up(false);
            self.log_line(&format!(
                "the handler exited ({why}): restarting the handler in {backoff:?}; delivery pauses until it answers"
            ));
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return,
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
            if self.stopping() || self.suspended.load(Ordering::SeqCst) {
                continue;
            }
            match self.start_handler().await {
                Ok(()) => {
                    self.restarts.fetch_add(1, Ordering::SeqCst);
                    up_since = tokio::time::Instant::now();
                    for n in self.wake_of.values() {
                        n.notify_one();
                    }
                }
                Err(e) => self.log_line(&format!("restarting the handler failed: {e}")),
            }
        }
    }

    /// Messages a previous host left locked (it was killed) become visible again now rather than when their lock
    /// expires. Only safe when this host is the queues' only consumer.
    pub(super) async fn release_stale_locks(&self) {
        for f in &self.app.functions {
            let Trigger::ServiceBus { queue, .. } = &f.trigger else {
                continue;
            };
            let Ok(q) = self.bus.queue(queue) else {
                continue;
            };
            let name = queue.clone();
            let released = tokio::task::spawn_blocking(move || {
                let mut n = 0;
                for m in q.peek_all()? {
                    if let Some(token) = m.lock_token.as_deref() {
                        if m.locked_until.is_some_and(|t| t > Utc::now())
                            && q.abandon(token).is_ok()
                        {
                            n += 1;
                        }
                    }
                }
                Ok::<_, PortError>(n)
            })
            .await;
            match released {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => self.log_line(&format!(
                    "{name}: {n} messages locked by a previous host are visible again"
                )),
                Ok(Err(e)) => self.log_line(&format!("{name}: releasing stale locks: {e}")),
                Err(e) => self.log_line(&format!("{name}: releasing stale locks failed: {e}")),
            }
        }
    }

    pub(super) async fn start_handler(&self) -> Result<(), HostError> {
        let mut slot = self.handler.lock().await;
        if let Some(child) = slot.as_mut() {
            if matches!(child.try_wait(), Ok(None)) {
                return Ok(());
            }
        }
        let port = free_port()?;
        let log_err = |e: std::io::Error| {
            HostError::Handler(format!("opening {}: {e}", self.config.log_file.display()))
        };
        if let Some(dir) = self.config.log_file.parent() {
            std::fs::create_dir_all(dir).map_err(log_err)?;
        }
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.config.log_file)
            .map_err(log_err)?;
        let err = out.try_clone().map_err(log_err)?;
        let h = &self.config.handler;
        let mut command = tokio::process::Command::new(&h.program);
        // SAFETY: prctl is async-signal-safe. A host killed with SIGKILL takes its handler with it, instead of
        // leaving it orphaned, holding its port.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command
            .args(&h.args)
            .current_dir(h.working_dir.as_ref().unwrap_or(&self.config.app_root))
            .envs(&self.config.app_settings)
            .envs(&h.env)
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("FUNCTIONS_WORKER_RUNTIME", "Custom")
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| HostError::Handler(format!("starting {}: {e}", h.program.display())))?;
        let deadline = tokio::time::Instant::now() + self.config.startup_timeout;
        // Any HTTP answer to GET /, even a 404, means ready.
        while client::send(port, "GET", "/", &[], Vec::new())
            .await
            .is_err()
        {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(HostError::Handler(format!(
                    "it exited ({status}) before answering on port {port}: see {}",
                    self.config.log_file.display()
                )));
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.kill().await;
                return Err(HostError::Handler(format!(
                    "no answer to GET / on port {port} within {:?}: see {}",
                    self.config.startup_timeout,
                    self.config.log_file.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.handler_port.store(port, Ordering::SeqCst);
        *slot = Some(child);
        self.suspended.store(false, Ordering::SeqCst);
        self.set_up(true);
        self.log_line(&format!("handler ready on port {port}"));
        Ok(())
    }

    pub(super) async fn kill_handler(&self) {
        let mut slot = self.handler.lock().await;
        self.suspended.store(true, Ordering::SeqCst);
        self.set_up(false);
        if let Some(mut child) = slot.take() {
            let _ = child.kill().await;
            self.log_line("handler killed");
        }
    }
}
