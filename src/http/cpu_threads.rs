//! Dedicated threads for the CPU-heavy parts of requests: argon2 checks and envelope parsing.
//! Run on the shared blocking pool, every thread that ever ran such a task kept the memory it
//! used afterwards (the allocator caches freed memory per thread, and idle threads never give it
//! back): six partners signing in together left the hub 114 MB larger, and five partners posting
//! envelopes of 1,000 objects about 60 MB. Here a fixed set of threads (one per core) does the
//! work, so only their caches stay, and the argon2 threads hand their 19 MiB block back at once.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Task = Box<dyn FnOnce() + Send>;

/// What a thread does with the memory its task freed.
#[derive(Clone, Copy)]
pub enum FreedMemory {
    /// Keep it cached for the next task (frequent tasks of moderate size).
    Keep,
    /// Give it back to the system after each task (rare tasks with large blocks).
    GiveBack,
}

pub struct CpuThreads {
    queue: mpsc::Sender<Task>,
}

impl CpuThreads {
    pub fn start(name: &str, threads: usize, freed: FreedMemory) -> CpuThreads {
        let (queue, tasks) = mpsc::channel::<Task>();
        let tasks = Arc::new(Mutex::new(tasks));
        for n in 0..threads.max(1) {
            let tasks = tasks.clone();
            let spawned = std::thread::Builder::new().name(format!("{name}-{n}")).spawn(move || loop {
                let next = tasks.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok(task) = next else { return };
                // A panicking task drops its reply, so its caller gets None; the thread goes on.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(task));
                if let FreedMemory::GiveBack = freed {
                    give_back_freed_memory();
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a {name} thread");
            }
        }
        CpuThreads { queue }
    }

    /// Runs `task` on one of the threads; None when it panicked or no thread could run it.
    pub async fn run<T: Send + 'static>(&self, task: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Box::new(move || {
                // A caller that has gone (client disconnected) no longer needs the work.
                if !reply.is_closed() {
                    let _ = reply.send(task());
                }
            }))
            .ok()?;
        answer.await.ok()
    }
}

/// One thread per core: the work is CPU-bound, more threads would only hold more memory.
pub fn per_core() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
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
    use crate::domain::credentials::{hash_password, verify_password};

    #[tokio::test]
    async fn tasks_answer_through_the_threads() {
        let hash = hash_password("correct horse").unwrap();
        let checks = CpuThreads::start("password-check", 2, FreedMemory::GiveBack);
        let (h1, h2) = (hash.clone(), hash);
        let (good, bad) = tokio::join!(
            checks.run(move || verify_password("correct horse", &h1)),
            checks.run(move || verify_password("battery staple", &h2))
        );
        assert_eq!((good, bad), (Some(true), Some(false)));
    }

    #[tokio::test]
    async fn a_panicking_task_fails_alone_and_the_threads_go_on() {
        let threads = CpuThreads::start("test", 1, FreedMemory::Keep);
        let failed: Option<()> = threads.run(|| panic!("bad input")).await;
        assert_eq!(failed, None);
        assert_eq!(threads.run(|| 6 * 7).await, Some(42));
    }
}
