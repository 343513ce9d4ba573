//! The shared journal and callbacks record: what every replica received
//! and sent, in a capped Redis stream and a capped list of each namespace.

use redis::Value;

use super::{pipeline, scripts, Space, Unavailable, CALLBACKS_CAP, JOURNAL_CAP};

impl Space {
    /// Appends a journal entry's record to the capped stream; not tried
    /// while the store is away (the answer was a 503: waiting the timeout
    /// once more would only delay it).
    pub async fn record(&self, record: &[u8]) -> Result<(), Unavailable> {
        if self.remote.is_down() {
            return Err(self.remote.unavailable("away".to_owned()));
        }
        let mut cmd = pipeline::Command::new(8, 64 + self.journal_key.len() + record.len());
        cmd.arg(b"XADD")
            .arg(self.journal_key.as_bytes())
            .arg(b"MAXLEN")
            .arg(b"~")
            .int(JOURNAL_CAP as i64)
            .arg(b"*")
            .arg(b"e")
            .arg(record);
        match self.remote.hot(cmd).await? {
            pipeline::Reply::Error(e) => Err(self.remote.unavailable(e)),
            _ => Ok(()),
        }
    }

    /// Replaces the journal entry `id` a poll wrote (its answer was not the
    /// one foreseen) with `record`, in one step.
    pub async fn rerecord(&self, id: &str, record: &[u8]) -> Result<(), Unavailable> {
        let mut inv = scripts::REJOURNAL.prepare_invoke();
        inv.key(&*self.journal_key).arg(id).arg(JOURNAL_CAP).arg(record);
        self.remote.script::<Value>(&inv).await.map(drop)
    }

    /// The journal's records, oldest first, each with its stream id made a number.
    pub async fn journal(&self) -> Result<Vec<(u64, Vec<u8>)>, Unavailable> {
        let mut cmd = redis::cmd("XREVRANGE");
        cmd.arg(&*self.journal_key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(JOURNAL_CAP);
        let entries: Vec<StreamEntry> = self.remote.run(&cmd).await?;
        Ok(entries
            .into_iter()
            .rev()
            .filter_map(|(id, fields)| Some((stream_id(&id)?, entry_record(fields)?)))
            .collect())
    }

    /// Records a callback attempt (JSON), keeping the newest [`CALLBACKS_CAP`].
    pub async fn record_callback(&self, attempt: &[u8]) -> Result<(), Unavailable> {
        let mut pipe = redis::pipe();
        pipe.cmd("RPUSH").arg(self.key("callbacks")).arg(attempt).ignore();
        pipe.cmd("LTRIM")
            .arg(self.key("callbacks"))
            .arg(-CALLBACKS_CAP)
            .arg(-1)
            .ignore();
        self.remote.pipe::<()>(&pipe).await
    }

    /// Every callback attempt recorded, oldest first.
    pub async fn callbacks(&self) -> Result<Vec<Vec<u8>>, Unavailable> {
        let mut cmd = redis::cmd("LRANGE");
        cmd.arg(self.key("callbacks")).arg(0).arg(-1);
        self.remote.run(&cmd).await
    }
}

/// A stream entry as XRANGE lists it: its id and its fields.
type StreamEntry = (String, Vec<(String, Vec<u8>)>);

/// A journal stream entry's record: field `e`, with the time of field `t`
/// when there is one (an entry the poll script wrote with the poll's moment).
fn entry_record(fields: Vec<(String, Vec<u8>)>) -> Option<Vec<u8>> {
    let mut record = None;
    let mut time = None;
    for (name, value) in fields {
        match name.as_str() {
            "e" => record = Some(value),
            "t" => time = std::str::from_utf8(&value).ok().and_then(|t| t.parse::<u64>().ok()),
            _ => {}
        }
    }
    let mut record = record?;
    if let (Some(time), Some(head)) = (time, record.get_mut(..8)) {
        head.copy_from_slice(&time.to_le_bytes());
    }
    Some(record)
}

/// A stream id `MS-SEQ` as one number that orders like it (a journal cursor).
pub fn stream_id(id: &str) -> Option<u64> {
    let (ms, seq) = id.split_once('-')?;
    let (ms, seq): (u64, u64) = (ms.parse().ok()?, seq.parse().ok()?);
    ms.checked_mul(1_000_000)?.checked_add(seq.min(999_999))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_entry_takes_the_polls_moment_when_it_has_one() {
        let field = |n: &str, v: &[u8]| (n.to_owned(), v.to_vec());
        let record = [0u8; 8].iter().copied().chain(*b"rest").collect::<Vec<u8>>();
        let timed = entry_record(vec![field("e", &record), field("t", b"1700000000123")]).unwrap();
        assert_eq!(&timed[..8], &1_700_000_000_123u64.to_le_bytes());
        assert_eq!(&timed[8..], b"rest");
        assert_eq!(entry_record(vec![field("e", &record)]).unwrap(), record);
        assert_eq!(entry_record(vec![field("t", b"1")]), None);
    }

    #[test]
    fn stream_ids_order_as_numbers() {
        assert!(stream_id("1700000000000-0").unwrap() < stream_id("1700000000000-1").unwrap());
        assert!(stream_id("1700000000000-999").unwrap() < stream_id("1700000000001-0").unwrap());
        assert_eq!(stream_id("nonsense"), None);
    }
}
