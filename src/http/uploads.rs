//! Bounded uploads: how many envelopes may be arriving at once (in all and per account), and
//! how long a body may take.
//!
//! Without these, any partner with write access could hold the hub's memory and connections
//! with bodies that never finish: each upload's buffer grows only with what has arrived, a body
//! that stalls is cut off, and an account may have only a few uploads in flight.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use futures_util::StreamExt;

use super::error::ApiError;
use super::slots::{KeyedSlot, KeyedSlots};
use crate::config::UploadConfig;

/// The buffer reserved before any of a body has arrived, whatever `Content-Length` declares.
const FIRST_RESERVATION: usize = 64 * 1024;

pub struct UploadSlots {
    total: Arc<tokio::sync::Semaphore>,
    per_account: KeyedSlots<i64>,
    config: UploadConfig,
}

/// One upload in flight; frees its slots when dropped.
pub struct UploadSlot {
    _total: tokio::sync::OwnedSemaphorePermit,
    _mine: KeyedSlot<i64>,
}

impl UploadSlots {
    pub fn new(config: UploadConfig) -> Self {
        UploadSlots {
            total: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent.max(1))),
            per_account: KeyedSlots::new(config.max_concurrent_per_account),
            config,
        }
    }

    /// A slot for one more upload by `account_id`. A burst of uploads waits a little for the
    /// ones ahead of it; past `slot_wait_seconds` the answer is 429 (nothing was read or
    /// stored, the client retries).
    pub async fn take(&self, account_id: i64) -> Result<UploadSlot, ApiError> {
        let wait = Duration::from_secs(self.config.slot_wait_seconds);
        let mine = self.per_account.take(account_id, wait).await.map_err(|_| {
            ApiError::Busy("your account has as many uploads in progress as it may; retry when one is done".into())
        })?;
        let total = tokio::time::timeout(wait, Arc::clone(&self.total).acquire_owned())
            .await
            .map_err(|_| {
                ApiError::Busy("the hub is receiving as many uploads as it takes at once; retry shortly".into())
            })?
            .map_err(|_| ApiError::Unavailable("the hub is shutting down".into()))?;
        Ok(UploadSlot { _total: total, _mine: mine })
    }

    /// Reads a body of at most `limit` bytes. The buffer grows with what arrives (never by what
    /// `Content-Length` promises); a body that sends nothing for the idle timeout, or is not
    /// complete within the whole-body timeout, is answered 408 and its connection closed.
    pub async fn read_body<S, E>(
        &self,
        payload: &mut S,
        declared: Option<usize>,
        limit: usize,
    ) -> Result<web::BytesMut, ApiError>
    where
        S: futures_util::Stream<Item = Result<web::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if declared.is_some_and(|n| n > limit) {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        let idle = Duration::from_secs(self.config.idle_timeout_seconds.max(1));
        let whole = Duration::from_secs(self.config.body_timeout_seconds.max(1));
        let read = async {
            let mut body = web::BytesMut::with_capacity(declared.unwrap_or(8192).min(limit).min(FIRST_RESERVATION));
            loop {
                let next = tokio::time::timeout(idle, payload.next()).await.map_err(|_| {
                    ApiError::RequestTimeout(format!("the request body sent nothing for {} s", idle.as_secs()))
                })?;
                let Some(chunk) = next else { return Ok(body) };
                let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("error reading the request body: {e}")))?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
        };
        tokio::time::timeout(whole, read).await.map_err(|_| {
            ApiError::RequestTimeout(format!("the request body did not arrive within {} s", whole.as_secs()))
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(idle: u64) -> UploadSlots {
        UploadSlots::new(UploadConfig { idle_timeout_seconds: idle, ..UploadConfig::default() })
    }

    #[tokio::test]
    async fn the_buffer_grows_with_what_arrives_not_with_what_is_declared() {
        let mut one_byte = futures_util::stream::iter([Ok::<_, std::io::Error>(web::Bytes::from_static(b"{"))]);
        let body = slots(30).read_body(&mut one_byte, Some(10 * 1024 * 1024), 10 * 1024 * 1024).await.unwrap();
        assert_eq!(&body[..], b"{");
        assert!(body.capacity() <= FIRST_RESERVATION, "reserved {} bytes", body.capacity());
    }

    #[tokio::test]
    async fn a_stalled_body_times_out_and_an_oversized_one_is_refused() {
        let first = futures_util::stream::iter([Ok::<_, std::io::Error>(web::Bytes::from_static(b"{"))]);
        let mut stalled = first.chain(futures_util::stream::pending());
        let outcome = slots(1).read_body(&mut stalled, Some(100), 100).await;
        assert!(matches!(outcome, Err(ApiError::RequestTimeout(_))), "{outcome:?}");
        let mut big = futures_util::stream::iter([Ok::<_, std::io::Error>(web::Bytes::from(vec![b' '; 101]))]);
        assert!(matches!(slots(1).read_body(&mut big, None, 100).await, Err(ApiError::PayloadTooLarge(100))));
        let mut any = futures_util::stream::empty::<Result<web::Bytes, std::io::Error>>();
        assert!(matches!(slots(1).read_body(&mut any, Some(101), 100).await, Err(ApiError::PayloadTooLarge(100))));
    }
}
