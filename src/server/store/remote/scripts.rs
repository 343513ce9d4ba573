//! The Lua scripts that make each shared step one atomic step in Redis.
//!
//! Every script that reads the clock reads it here, from the clock hash and
//! Redis `TIME`: the one time source of all replicas, so a task never goes
//! backwards whichever replica answers. A namespace's clock is made on its
//! first use (`start` and `frozen` of the server's flags, which every
//! replica agrees on), so a namespace another replica deleted starts again
//! as the server started.

use std::sync::LazyLock;

use redis::Script;

/// The clock of `KEYS[clock]`: `offset` (mock minus Redis time, ms) while
/// it runs, `frozen` (the mock time it stands at, or -1). Returns the mock
/// time now and 1 when frozen, 0 when running.
const CLOCK: &str = r#"
local LATEST = 253402300799999
local function n(x) return string.format('%.0f', x) end
local function redis_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function clock_set(key, now, frozen)
  if now > LATEST then now = LATEST end
  if now < 0 then now = 0 end
  if frozen == 1 then
    redis.call('HSET', key, 'offset', 0, 'frozen', now)
  else
    redis.call('HSET', key, 'offset', now - redis_ms(), 'frozen', -1)
  end
  return now
end
local function clock_now(key, start, frozen0)
  local c = redis.call('HMGET', key, 'offset', 'frozen')
  if not c[2] then
    local s = tonumber(start)
    if s < 0 then s = redis_ms() end
    clock_set(key, s, tonumber(frozen0))
    c = redis.call('HMGET', key, 'offset', 'frozen')
  end
  local frozen = tonumber(c[2])
  if frozen >= 0 then return frozen, 1 end
  local now = redis_ms() + tonumber(c[1])
  if now > LATEST then now = LATEST end
  return now, 0
end
"#;

fn with_clock(body: &str) -> Script {
    Script::new(&format!("{CLOCK}\n{body}"))
}

/// A script the poll path sends itself (`pipeline`), not through redis-rs:
/// its text, for `EVAL` when Redis does not know it yet, and its SHA-1,
/// for `EVALSHA` every other time.
pub struct Hot {
    pub code: String,
    pub sha: String,
}

impl Hot {
    fn with_clock(body: &str) -> Self {
        let code = format!("{CLOCK}\n{body}");
        let sha = Script::new(&code).get_hash().to_owned();
        Self { code, sha }
    }
}

/// Polls, as many as were queued together (`pipeline::Batch`): each
/// counted, with the clock read and (with a record) the request's journal
/// entry written, all in one step.
/// KEYS: task, clock, journal of each poll. ARGV: start, frozen, v2 window,
/// the journal's cap; then family, cached uid and the journal record ('' for
/// none; written with the poll's moment as its `t` field, which the
/// journal's reader puts in the record's time) of each poll.
/// Returns one string a poll, `0,now,frozen` when there is no such task for
/// this family (or a v2 task past its window: nothing is counted or
/// written), else `1,now,frozen,polls before,cancelled at,uid,journal entry
/// id[,submitted at\ndata]`, the task's data only when the caller's copy is
/// not of this task (`uid`).
/// One string, not an array: the poll is the hot path, and the client
/// parses one reply value much faster than eight. The journal entry goes
/// with the poll so that a request costs one round trip, not two.
pub static POLL: LazyLock<Hot> = LazyLock::new(|| {
    // The clock is read inline, not through `clock_now`, once a clock for
    // the whole batch (its polls are one instant), and numbers are turned
    // into text once: Lua's conversions and each `redis.call` are most of
    // what a poll costs Redis (callgrind: 113,000 -> 97,000 instructions a
    // call with the journal entry, before polls were batched).
    Hot::with_clock(
        r#"
local start, frozen0, window, cap = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local clocks, out = {}, {}
for i = 1, #KEYS / 3 do
  local task, ck, a = KEYS[3 * i - 2], KEYS[3 * i - 1], 3 * i + 2
  local clock = clocks[ck]
  if not clock then
    local c = redis.call('HMGET', ck, 'offset', 'frozen')
    local now, frozen
    if c[2] and c[2] ~= '-1' then
      now, frozen = c[2], '1'
    elseif c[2] then
      local ms = redis_ms() + tonumber(c[1])
      if ms > LATEST then ms = LATEST end
      now, frozen = n(ms), '0'
    else
      local ms, f = clock_now(ck, start, frozen0)
      now, frozen = n(ms), tostring(f)
    end
    clock = {now, now .. ',' .. frozen}
    clocks[ck] = clock
  end
  local now = clock[1]
  local t = redis.call('HMGET', task, 'u', 'f', 's', 'w', 'c')
  if not t[1] or t[2] ~= ARGV[a] or (t[4] == '1' and tonumber(now) - tonumber(t[3]) > window) then
    out[i] = '0,' .. clock[2]
  else
    local before = redis.call('HINCRBY', task, 'p', 1) - 1
    local jid = ''
    if ARGV[a + 2] ~= '' then
      jid = redis.call('XADD', KEYS[3 * i], 'MAXLEN', '~', cap, '*', 'e', ARGV[a + 2], 't', now)
    end
    local s = '1,' .. clock[2] .. ',' .. before .. ',' .. (t[5] or '0') .. ',' .. t[1] .. ',' .. jid
    if t[1] ~= ARGV[a + 1] then
      s = s .. ',' .. (t[3] or '0') .. '\n' .. (redis.call('HGET', task, 'd') or '')
    end
    out[i] = s
  end
end
return out
"#,
    )
});

/// Replaces a journal entry a poll wrote by the entry of the answer
/// actually given (a fault's status, a reset), at the end of the stream:
/// as an entry written after the answer would be.
/// KEYS: journal. ARGV: the entry's id, the cap, the record.
pub static REJOURNAL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
redis.call('XDEL', KEYS[1], ARGV[1])
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[3])
"#,
    )
});

/// A look at a task without counting a poll.
/// KEYS: task, clock. ARGV: start, frozen, cached uid.
/// Returns one string as [`POLL`] does, with the polls so far and no
/// journal entry: `0,now,frozen` or `1,now,frozen,polls,cancelled at,uid,[,submitted at\ndata]`.
pub static PEEK: LazyLock<Script> = LazyLock::new(|| {
    with_clock(
        r#"
local now, frozen = clock_now(KEYS[2], ARGV[1], ARGV[2])
local t = redis.call('HMGET', KEYS[1], 'u', 'p', 'c')
if not t[1] then return '0,' .. n(now) .. ',' .. frozen end
local out = '1,' .. n(now) .. ',' .. frozen .. ',' .. (t[2] or '0') .. ',' .. (t[3] or '0') .. ',' .. t[1] .. ','
if t[1] ~= ARGV[3] then
  local more = redis.call('HMGET', KEYS[1], 'd', 's')
  return out .. ',' .. (more[2] or '0') .. '\n' .. (more[1] or '')
end
return out
"#,
    )
});

/// Creates a task (or, `replace` 0, finds the one already there).
/// KEYS: task, clock, order, files, uid counter, forgotten, callback
/// tasks, stats, the task's callback lease, the fencing counter. ARGV:
/// start, frozen, data, family, is v2, file id, id, max tasks, replace,
/// remember forgotten, has callback, submitted at ('' for now), polls,
/// cancelled at, task key prefix, replica, lease ms. A task with a
/// callback is created with its lease held by the creating replica, so no
/// other replica can take its updates over before its first.
/// Returns `{1, now, frozen, uid, submitted at, polls, cancelled at, lease token}`
/// for a created task, `{0, now, frozen, uid, submitted at, polls, cancelled at, data}`
/// for one that was already there, or `{-1, now, frozen}`
/// for an id forgotten past --max-tasks that a rule must not re-create.
pub static CREATE: LazyLock<Script> = LazyLock::new(|| {
    with_clock(
        r#"
local now, frozen = clock_now(KEYS[2], ARGV[1], ARGV[2])
if ARGV[9] == '0' then
  local t = redis.call('HMGET', KEYS[1], 'u', 's', 'p', 'c', 'd')
  if t[1] then
    return {0, now, frozen, tonumber(t[1]), tonumber(t[2]), tonumber(t[3]), tonumber(t[4] or '0'), t[5]}
  end
  if ARGV[10] == '1' and redis.call('SISMEMBER', KEYS[6], ARGV[7]) == 1 then return {-1, now, frozen} end
else
  local old = redis.call('HGET', KEYS[1], 'i')
  if old then redis.call('HDEL', KEYS[4], old) end
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[6], ARGV[7])
end
local u = redis.call('INCR', KEYS[5])
local s = now
if ARGV[12] ~= '' then s = tonumber(ARGV[12]) end
redis.call('HSET', KEYS[1], 'd', ARGV[3], 'u', u, 'f', ARGV[4], 's', s, 'w', ARGV[5],
  'p', ARGV[13], 'c', ARGV[14], 'i', ARGV[6])
redis.call('ZADD', KEYS[3], u, ARGV[7])
redis.call('HSET', KEYS[4], ARGV[6], ARGV[7])
local token = 0
if ARGV[11] == '1' then
  redis.call('SADD', KEYS[7], ARGV[7])
  token = redis.call('INCR', KEYS[10])
  redis.call('SET', KEYS[9], ARGV[16] .. '#' .. token, 'PX', ARGV[17])
end
local max = tonumber(ARGV[8])
while redis.call('ZCARD', KEYS[3]) > max do
  local oid = redis.call('ZPOPMIN', KEYS[3])[1]
  local okey = ARGV[15] .. oid
  local ofile = redis.call('HGET', okey, 'i')
  if ofile then redis.call('HDEL', KEYS[4], ofile) end
  redis.call('DEL', okey)
  redis.call('SREM', KEYS[7], oid)
  if ARGV[10] == '1' then redis.call('SADD', KEYS[6], oid) end
  redis.call('HINCRBY', KEYS[8], 'forgotten', 1)
end
return {1, now, frozen, u, s, tonumber(ARGV[13]), tonumber(ARGV[14]), token}
"#,
    )
});

/// Removes a task. KEYS: task, order, files, callback tasks. ARGV: id.
/// Returns 1 if it existed.
pub static REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local file = redis.call('HGET', KEYS[1], 'i')
if not file then return 0 end
redis.call('HDEL', KEYS[3], file)
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
return 1
"#,
    )
});

/// v2's cancel: sets `c` if the task is not cancelled yet.
/// KEYS: task, clock. ARGV: start, frozen. Returns `{cancelled by this, now}`.
pub static CANCEL: LazyLock<Script> = LazyLock::new(|| {
    with_clock(
        r#"
local now = clock_now(KEYS[2], ARGV[1], ARGV[2])
if not redis.call('HGET', KEYS[1], 'u') then return {0, now} end
local c = tonumber(redis.call('HGET', KEYS[1], 'c') or '0')
if c ~= 0 then return {0, now} end
local at = now
if at < 1 then at = 1 end
redis.call('HSET', KEYS[1], 'c', at)
return {1, now}
"#,
    )
});

/// The clock: read, or change it. KEYS: clock. ARGV: start, frozen,
/// operation (`read`, `advance` ms, `freeze`, `resume`, `reset`), its
/// argument. Returns `{now, frozen}` after the change.
pub static CLOCK_OP: LazyLock<Script> = LazyLock::new(|| {
    with_clock(
        r#"
local now, frozen = clock_now(KEYS[1], ARGV[1], ARGV[2])
local op = ARGV[3]
if op == 'advance' then
  now = clock_set(KEYS[1], now + tonumber(ARGV[4]), frozen)
elseif op == 'freeze' then
  frozen = 1
  now = clock_set(KEYS[1], now, 1)
elseif op == 'resume' then
  frozen = 0
  now = clock_set(KEYS[1], now, 0)
elseif op == 'reset' then
  local s = tonumber(ARGV[1])
  if s < 0 then s = redis_ms() end
  frozen = tonumber(ARGV[2])
  now = clock_set(KEYS[1], s, frozen)
end
return {now, frozen}
"#,
    )
});

/// The scenario for one submit, counting it. KEYS: next. Returns the
/// scenario's record, or nil.
pub static TAKE_NEXT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local left = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
if left <= 0 then return false end
local scenario = redis.call('HGET', KEYS[1], 'scenario')
if left == 1 then redis.call('DEL', KEYS[1]) else redis.call('HINCRBY', KEYS[1], 'count', -1) end
return scenario
"#,
    )
});

/// Takes, renews or checks a task's callback lease. KEYS: lease, fencing
/// counter, and for `take` the callback tasks and their progress. ARGV:
/// `take` / `renew` / `release`, owner token (for renew and release), lease
/// ms, replica name, and for `take` the task id.
/// `take`: `{'1', token, progress or ''}` when it was free and the task's
/// updates are not all sent, `{'0'}` otherwise. Checking and reading in the
/// script matters: a takeover that read the pending tasks before the owner
/// finished would otherwise take a finished task's lease, or start from a
/// stale progress, and send an update twice.
/// `renew`: 1 while the lease is still the caller's (and extends it), 0 when lost.
/// `release`: deletes it if it is the caller's.
pub static LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local op = ARGV[1]
if op == 'take' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return {'0'} end
  if redis.call('SISMEMBER', KEYS[3], ARGV[5]) == 0 then return {'0'} end
  local token = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[4] .. '#' .. token, 'PX', ARGV[3])
  local progress = redis.call('HGET', KEYS[4], ARGV[5]) or ''
  return {'1', tostring(token), progress}
end
local held = redis.call('GET', KEYS[1])
if held ~= ARGV[4] .. '#' .. ARGV[2] then return 0 end
if op == 'renew' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1
"#,
    )
});

/// Records how far a task's callback updates went, fenced: only while
/// the caller still holds the lease. KEYS: lease, progress hash, callback
/// tasks. ARGV: replica, token, task id, progress (`done` ends it), lease ms.
/// Returns 1 if recorded, 0 if the lease was lost.
pub static PROGRESS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] .. '#' .. ARGV[2] then return 0 end
if ARGV[4] == 'done' then
  redis.call('HDEL', KEYS[2], ARGV[3])
  redis.call('SREM', KEYS[3], ARGV[3])
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return 1
"#,
    )
});
