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
    /// Takes the lease of task `id` if nobody holds it and its updates are
    /// not all sent, with how far they went (read with the take, so a
    /// finished owner's last progress is never missed).
    pub async fn take_lease(&self, id: &str) -> Result<Option<(Lease, Option<String>)>, Unavailable> {
        let remote = &self.remote;
        let mut inv = scripts::LEASE.prepare_invoke();
        inv.key(self.key(&format!("lease:{id}")))
            .key("mmock:fence")
            .key(self.key("cbtasks"))
            .key(self.key("cbprogress"))
            .arg("take")
            .arg(0)
            .arg(remote.lease.as_millis() as u64)
            .arg(&remote.replica)
            .arg(id);
        let taken: Vec<String> = remote.script(&inv).await?;
        Ok(match taken.as_slice() {
            [ok, token, progress] if ok == "1" => token.parse().ok().map(|token| {
                let lease = Lease {
                    space: self.clone(),
                    id: id.to_owned(),
                    token,
                };
                (lease, (!progress.is_empty()).then(|| progress.clone()))
            }),
            _ => None,
        })
    }

    /// The tasks whose updates are not all sent yet (how far they went is
    /// read when a lease is taken).
    pub async fn pending_callbacks(&self) -> Result<Vec<String>, Unavailable> {
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(self.key("cbtasks"));
        self.remote.run(&cmd).await
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
