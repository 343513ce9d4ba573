//! Who sends a task's callback updates: one replica at a time, by a lease
//! with a fencing token. The replica that took a task's submit holds its
//! lease; it renews it while it works and records, fenced by the token,
//! how far the updates went. When it dies the lease runs out and another
//! replica takes it over, going on from the recorded progress: only the
//! update in flight when it died can be sent twice. A replica that stops
//! gracefully releases its leases after the update it is sending, so the
//! next owner starts exactly where it stopped.

use super::{scripts, Space, Unavailable};

/// A held lease on one task's callbacks.
#[derive(Debug, Clone)]
pub struct Lease {
    space: Space,
    id: String,
    token: u64,
}

impl Space {
    /// Takes the lease of task `id` if nobody holds it.
    pub async fn take_lease(&self, id: &str) -> Result<Option<Lease>, Unavailable> {
        let remote = &self.remote;
        let mut inv = scripts::LEASE.prepare_invoke();
        inv.key(self.key(&format!("lease:{id}")))
            .key("mmock:fence")
            .arg("take")
            .arg(0)
            .arg(remote.lease.as_millis() as u64)
            .arg(&remote.replica);
        let taken: Vec<u64> = remote.script(&inv).await?;
        Ok(match taken.as_slice() {
            [1, token] => Some(Lease {
                space: self.clone(),
                id: id.to_owned(),
                token: *token,
            }),
            _ => None,
        })
    }

    /// The tasks whose updates are not all sent yet, with how far they went.
    pub async fn pending_callbacks(&self) -> Result<Vec<(String, Option<String>)>, Unavailable> {
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(self.key("cbtasks"));
        let ids: Vec<String> = self.remote.run(&cmd).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.key("cbprogress"));
        for id in &ids {
            cmd.arg(id);
        }
        let progress: Vec<Option<String>> = self.remote.run(&cmd).await?;
        Ok(ids.into_iter().zip(progress).collect())
    }
}

impl Lease {
    /// The lease `token` of task `id`, taken by a script.
    pub fn held(space: Space, id: &str, token: u64) -> Self {
        Self {
            space,
            id: id.to_owned(),
            token,
        }
    }

    fn call(&self, op: &str) -> redis::ScriptInvocation<'static> {
        let remote = &self.space.remote;
        let mut inv = scripts::LEASE.prepare_invoke();
        inv.key(self.space.key(&format!("lease:{}", self.id)))
            .key("mmock:fence")
            .arg(op)
            .arg(self.token)
            .arg(remote.lease.as_millis() as u64)
            .arg(&remote.replica);
        inv
    }

    /// Extends the lease; false once it is no longer ours (it ran out and
    /// another replica took it): then nothing more may be sent.
    pub async fn renew(&self) -> Result<bool, Unavailable> {
        Ok(self.space.remote.script::<i64>(&self.call("renew")).await? == 1)
    }

    /// Records how far the updates went (`done`: all of them, which ends
    /// the lease); false if the lease was lost.
    pub async fn progress(&self, progress: &str) -> Result<bool, Unavailable> {
        let remote = &self.space.remote;
        let mut inv = scripts::PROGRESS.prepare_invoke();
        inv.key(self.space.key(&format!("lease:{}", self.id)))
            .key(self.space.key("cbprogress"))
            .key(self.space.key("cbtasks"))
            .arg(&remote.replica)
            .arg(self.token)
            .arg(&self.id)
            .arg(progress)
            .arg(remote.lease.as_millis() as u64);
        Ok(remote.script::<i64>(&inv).await? == 1)
    }

    /// Gives the lease up (a graceful stop): another replica goes on.
    pub async fn release(&self) -> Result<(), Unavailable> {
        self.space.remote.script::<i64>(&self.call("release")).await.map(drop)
    }

    pub fn token(&self) -> u64 {
        self.token
    }
}
