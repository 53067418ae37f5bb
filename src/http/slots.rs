//! A fixed number of slots per key (per account, per client address), waited for briefly: a
//! burst queues behind what is in progress instead of failing, and one key cannot take what
//! other keys need.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Semaphores<K> = Arc<Mutex<HashMap<K, Arc<tokio::sync::Semaphore>>>>;

pub struct KeyedSlots<K: Eq + Hash + Clone> {
    per_key: Semaphores<K>,
    slots: usize,
}

/// A slot held for one key; freed when dropped.
pub struct KeyedSlot<K: Eq + Hash + Clone> {
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    key: K,
    per_key: Semaphores<K>,
}

impl<K: Eq + Hash + Clone> Drop for KeyedSlot<K> {
    fn drop(&mut self) {
        self.permit.take();
        forget_if_unused(&self.per_key, &self.key);
    }
}

/// Drops a key's semaphore once nobody holds or waits for it (the map's is the last copy), so
/// the map holds only keys in use.
fn forget_if_unused<K: Eq + Hash>(per_key: &Mutex<HashMap<K, Arc<tokio::sync::Semaphore>>>, key: &K) {
    let mut map = per_key.lock().unwrap_or_else(|p| p.into_inner());
    if map.get(key).is_some_and(|s| Arc::strong_count(s) == 1) {
        map.remove(key);
    }
}

/// No slot came free in time.
#[derive(Debug)]
pub struct NoSlot;

impl<K: Eq + Hash + Clone> KeyedSlots<K> {
    pub fn new(slots: usize) -> Self {
        KeyedSlots { per_key: Arc::new(Mutex::new(HashMap::new())), slots: slots.max(1) }
    }

    /// One of `key`'s slots, waiting at most `wait` for one to come free.
    pub async fn take(&self, key: K, wait: Duration) -> Result<KeyedSlot<K>, NoSlot> {
        let semaphore = {
            let mut map = self.per_key.lock().unwrap_or_else(|p| p.into_inner());
            let slots = self.slots;
            Arc::clone(map.entry(key.clone()).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(slots))))
        };
        let permit = tokio::time::timeout(wait, semaphore.acquire_owned()).await;
        match permit {
            Ok(Ok(permit)) => Ok(KeyedSlot { permit: Some(permit), key, per_key: Arc::clone(&self.per_key) }),
            _ => {
                forget_if_unused(&self.per_key, &key);
                Err(NoSlot)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_per_key_queue_briefly_and_are_forgotten_when_free() {
        let slots = KeyedSlots::new(1);
        let short = Duration::from_millis(50);
        let held = slots.take("a", short).await.unwrap();
        assert!(slots.take("a", short).await.is_err(), "a's one slot is taken");
        let other = slots.take("b", short).await.unwrap();
        drop(other);
        drop(held);
        assert!(slots.per_key.lock().unwrap().is_empty());
        let held = slots.take("a", short).await.unwrap();
        let waiter = tokio::spawn({
            let slots = Arc::new(slots);
            let s = Arc::clone(&slots);
            async move { s.take("a", Duration::from_secs(5)).await.is_ok() }
        });
        tokio::time::sleep(short).await;
        drop(held);
        assert!(waiter.await.unwrap(), "a waiter gets the slot once it is free");
    }
}
