//! argon2id checks on a few dedicated threads. One check fills a ~19 MiB block; run on the shared
//! blocking pool, every thread that ever ran one kept its own block afterwards (the allocator
//! caches freed memory per thread, and idle threads never give it back), so six partners signing
//! in together left the hub 114 MB larger. Here one thread per core does every check and hands
//! the block back to the system once the check is done.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::domain::credentials::verify_password;

type Check = (String, String, oneshot::Sender<bool>);

pub struct PasswordChecks {
    queue: mpsc::Sender<Check>,
}

impl PasswordChecks {
    pub fn start(threads: usize) -> PasswordChecks {
        let (queue, checks) = mpsc::channel::<Check>();
        let checks = Arc::new(Mutex::new(checks));
        for n in 0..threads.max(1) {
            let checks = checks.clone();
            let spawned = std::thread::Builder::new().name(format!("password-check-{n}")).spawn(move || loop {
                let next = checks.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok((password, hash, reply)) = next else { return };
                let _ = reply.send(verify_password(&password, &hash));
                give_back_freed_memory();
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password-check thread");
            }
        }
        PasswordChecks { queue }
    }

    /// Whether `password` matches the argon2 PHC string `hash`; None when no thread could run it.
    pub async fn verify(&self, password: String, hash: String) -> Option<bool> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((password, hash, reply)).ok()?;
        answer.await.ok()
    }
}

/// Returns the memory this thread freed to the system now, rather than keeping it cached for a
/// next allocation that may be hours away.
fn give_back_freed_memory() {
    // SAFETY: mi_collect only releases memory that is no longer in use; it takes no pointers.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checks_answer_through_the_threads() {
        let hash = crate::domain::credentials::hash_password("correct horse").unwrap();
        let checks = PasswordChecks::start(2);
        let (good, bad) = tokio::join!(
            checks.verify("correct horse".into(), hash.clone()),
            checks.verify("battery staple".into(), hash.clone())
        );
        assert_eq!((good, bad), (Some(true), Some(false)));
    }
}
