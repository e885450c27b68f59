//! The background loops of one process, stopped together when it shuts down.
//!
//! A service spawns every loop it owns (refreshers, reporters, followers, the pacer) through
//! one [`Background`]; when its server has drained, [`Background::stop`] signals them all and
//! waits, bounded, until they have ended, so `run` returns with nothing of its own still
//! running and every connection handle the loops held already dropped.

use std::{future::Future, time::Duration};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// The background loops of a process. Cheap to clone: clones share the loops and the signal.
#[derive(Clone, Debug, Default)]
pub struct Background {
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Background {
    /// An empty set, not stopped.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `task` until it ends or the set is stopped, whichever comes first. A stopped task is
    /// dropped at the await it stands on, so a loop spawned here keeps nothing that must
    /// outlive a step (each of ours reads or publishes afresh on its next round). Spawning after
    /// [`Background::stop`] drops `task` at once.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                biased;
                () = stop.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// The stop signal, for work run outside [`Background::spawn`] that must finish its step
    /// before it ends (it watches the token itself instead of being dropped mid-step).
    pub fn token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Loops still running.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether no loop is running.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Signals every loop to stop and waits up to `within` for them to end. Returns how many
    /// were still running then (0 but for a loop stuck outside an await, which is logged).
    pub async fn stop(&self, within: Duration) -> usize {
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(within, self.tasks.wait())
            .await
            .is_err()
        {
            let left = self.tasks.len();
            tracing::warn!(
                left,
                ?within,
                "background loops still running after shutdown"
            );
            return left;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stop_ends_every_loop_and_waits_for_them() {
        let background = Background::new();
        for _ in 0..3 {
            background.spawn(std::future::pending());
        }
        // A loop is dropped where it stands: what it holds is released.
        let (held, released) = tokio::sync::oneshot::channel::<()>();
        background.spawn(async move {
            let _held = held;
            std::future::pending::<()>().await;
        });
        background.spawn(async {});
        let token = background.token();
        assert_eq!(background.stop(Duration::from_secs(5)).await, 0);
        assert!(background.is_empty());
        assert!(token.is_cancelled());
        assert!(released.await.is_err());
        // Spawned after the stop: dropped at once.
        background.spawn(std::future::pending());
        assert_eq!(background.stop(Duration::from_secs(5)).await, 0);
    }
}
