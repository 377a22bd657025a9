//! String commands: GET, SET (EX, PX, EXAT, PXAT, NX, XX, GET, KEEPTTL),
//! SETEX, PSETEX, GETEX, GETSET, GETDEL, INCR, DECR, INCRBY, DECRBY,
//! INCRBYFLOAT, APPEND, STRLEN, MGET, MSET.

use evloop::codec::parse_redis_int;

use super::flags::{R, W, WD, WF};
use super::{keyed, spec, typed, Call, Spec, KEY1};
use crate::reply::{decimal, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::store::Ttl;
use crate::value::{format_float, Value};
use crate::{Bytes, Server};

/// The family's table.
pub const COMMANDS: &[Spec] = &[
    keyed(spec("get", 2, R, get), KEY1),
    keyed(spec("set", -3, W, set), KEY1),
    keyed(spec("setex", 4, W, setex), KEY1),
    keyed(spec("psetex", 4, W, psetex), KEY1),
    keyed(spec("getex", -2, WF, getex), KEY1),
    keyed(spec("getset", 3, WF, getset), KEY1),
    keyed(spec("getdel", 2, WD, getdel), KEY1),
    keyed(spec("incr", 2, WF, incr), KEY1),
    keyed(spec("decr", 2, WF, decr), KEY1),
    keyed(spec("incrby", 3, WF, incrby), KEY1),
    keyed(spec("decrby", 3, WF, decrby), KEY1),
    keyed(spec("incrbyfloat", 3, WF, incrbyfloat), KEY1),
    keyed(spec("append", 3, WF, append), KEY1),
    keyed(spec("strlen", 2, R, strlen), KEY1),
    keyed(spec("mget", -2, R, mget), (1, -1, 1)),
    keyed(spec("mset", -3, W, mset), (1, -1, 2)),
];

/// `GET key`: the string, nil if missing, `-WRONGTYPE` for another type.
pub fn get(server: &mut Server, call: &mut Call<'_>) {
    let found = call.db(server).get_str(&call.args[1], call.now);
    if let Some(value) = typed(call, found) {
        call.out.bulk_or_nil(value.map(|v| v.as_slice()));
    }
}

/// The four ways to give an expiry (`EX`, `PX`, `EXAT`, `PXAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// Seconds from now.
    Ex,
    /// Milliseconds from now.
    Px,
    /// A Unix time in seconds.
    ExAt,
    /// A Unix time in milliseconds.
    PxAt,
}

impl Expiry {
    fn from_option(option: &[u8]) -> Option<Expiry> {
        match option {
            b"EX" => Some(Expiry::Ex),
            b"PX" => Some(Expiry::Px),
            b"EXAT" => Some(Expiry::ExAt),
            b"PXAT" => Some(Expiry::PxAt),
            _ => None,
        }
    }

    /// Redis's `getExpireMillisecondsOrReply`: the deadline in Unix
    /// milliseconds, or `-ERR invalid expire time in 'cmd' command`.
    fn deadline(self, call: &mut Call<'_>, index: usize, command: &str) -> Option<i64> {
        let amount = call.int_arg(index)?;
        let seconds = matches!(self, Expiry::Ex | Expiry::ExAt);
        let relative = matches!(self, Expiry::Ex | Expiry::Px);
        let mut at = (amount > 0 && !(seconds && amount > i64::MAX / 1000)).then_some(amount);
        if seconds {
            at = at.map(|s| s * 1000);
        }
        if relative {
            at = at.and_then(|ms| ms.checked_add(call.now));
        }
        if at.is_none() {
            call.out.error(&format!("ERR invalid expire time in '{command}' command"));
        }
        at
    }
}

/// SET's and GETEX's options as Redis's `parseExtendedStringArgumentsOrReply`
/// reads them: a conflicting or unknown option is a syntax error before
/// any expire time is read.
#[derive(Debug, Default)]
struct Options {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    /// The expiry and the index of its argument.
    expire: Option<(Expiry, usize)>,
}

impl Options {
    /// Parses from argument `from` on; `getex` allows only the expiries
    /// and PERSIST, `set` everything else but PERSIST.
    fn parse(call: &Call<'_>, from: usize, getex: bool) -> Option<Options> {
        let mut o = Options::default();
        let mut index = from;
        while index < call.args.len() {
            let option = call.arg(index).to_ascii_uppercase();
            let has_next = index + 1 < call.args.len();
            let expiry = Expiry::from_option(&option);
            match option.as_slice() {
                b"NX" if !getex && !o.xx => o.nx = true,
                b"XX" if !getex && !o.nx => o.xx = true,
                b"GET" if !getex => o.get = true,
                b"KEEPTTL" if !getex && o.expire.is_none() => o.keep_ttl = true,
                b"PERSIST" if getex && o.expire.is_none() => o.persist = true,
                _ if expiry.is_some()
                    && has_next
                    && !o.keep_ttl
                    && !o.persist
                    && o.expire.is_none_or(|(e, _)| Some(e) == expiry) =>
                {
                    o.expire = expiry.map(|e| (e, index + 1));
                    index += 1;
                }
                _ => return None,
            }
            index += 1;
        }
        Some(o)
    }
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT t | PXAT t | KEEPTTL]`.
pub fn set(server: &mut Server, call: &mut Call<'_>) {
    let Some(options) = Options::parse(call, 3, false) else { return call.out.error(SYNTAX_ERROR) };
    let ttl = match options.expire {
        None if options.keep_ttl => Ttl::Keep,
        None => Ttl::Clear,
        Some((expiry, at)) => match expiry.deadline(call, at, "set") {
            Some(deadline) => Ttl::At(deadline),
            None => return,
        },
    };
    let key = &call.args[1];
    let store = call.db(server);
    let exists = if options.get {
        let found = store.get_str(key, call.now);
        let Some(old) = typed(call, found) else { return };
        call.out.bulk_or_nil(old.map(|v| v.as_slice()));
        old.is_some()
    } else {
        store.contains(key, call.now)
    };
    if (options.nx && exists) || (options.xx && !exists) {
        if !options.get {
            call.out.nil();
        }
        return;
    }
    call.db(server).set_str(key, Bytes::from(&call.args[2][..]), ttl);
    if !options.get {
        call.out.ok();
    }
}

/// `SETEX key seconds value`.
pub fn setex(server: &mut Server, call: &mut Call<'_>) {
    set_with_expiry(server, call, Expiry::Ex, "setex");
}

/// `PSETEX key milliseconds value`.
pub fn psetex(server: &mut Server, call: &mut Call<'_>) {
    set_with_expiry(server, call, Expiry::Px, "psetex");
}

fn set_with_expiry(server: &mut Server, call: &mut Call<'_>, expiry: Expiry, command: &str) {
    let Some(at) = expiry.deadline(call, 2, command) else { return };
    call.db(server).set_str(&call.args[1], Bytes::from(&call.args[3][..]), Ttl::At(at));
    call.out.ok();
}

/// `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`: the value, and
/// its deadline changed as asked.
pub fn getex(server: &mut Server, call: &mut Call<'_>) {
    let Some(options) = Options::parse(call, 2, true) else { return call.out.error(SYNTAX_ERROR) };
    let key = &call.args[1];
    let found = call.db(server).get_str(key, call.now).map(|v| v.cloned());
    let Some(value) = typed(call, found) else { return };
    let Some(value) = value else { return call.out.nil() };
    let deadline = match options.expire {
        Some((expiry, at)) => match expiry.deadline(call, at, "getex") {
            Some(deadline) => Some(deadline),
            None => return,
        },
        None => None,
    };
    call.out.bulk(&value);
    let store = call.db(server);
    match deadline {
        Some(at) => store.set_deadline(key, at, call.now),
        None if options.persist => {
            store.persist(key);
        }
        None => {}
    }
}

/// `GETSET key value`: the old string, and the new one stored without a
/// deadline.
pub fn getset(server: &mut Server, call: &mut Call<'_>) {
    let found = call.db(server).get_str(&call.args[1], call.now);
    let Some(old) = typed(call, found) else { return };
    call.out.bulk_or_nil(old.map(|v| v.as_slice()));
    call.db(server).set_str(&call.args[1], Bytes::from(&call.args[2][..]), Ttl::Clear);
}

/// `GETDEL key`: the string, and the key deleted.
pub fn getdel(server: &mut Server, call: &mut Call<'_>) {
    let found = call.db(server).get_str(&call.args[1], call.now).map(|v| v.is_some());
    let Some(exists) = typed(call, found) else { return };
    if !exists {
        return call.out.nil();
    }
    match call.db(server).remove(&call.args[1], call.now) {
        Some(Value::Str(value)) => call.out.bulk(&value),
        _ => call.out.nil(),
    }
}

/// `INCR key`.
pub fn incr(server: &mut Server, call: &mut Call<'_>) {
    add(server, call, 1);
}

/// `DECR key`.
pub fn decr(server: &mut Server, call: &mut Call<'_>) {
    add(server, call, -1);
}

/// `INCRBY key increment`.
pub fn incrby(server: &mut Server, call: &mut Call<'_>) {
    if let Some(by) = call.int_arg(2) {
        add(server, call, by);
    }
}

/// `DECRBY key decrement`.
pub fn decrby(server: &mut Server, call: &mut Call<'_>) {
    match call.int_arg(2) {
        Some(i64::MIN) => call.out.error("ERR decrement would overflow"),
        Some(by) => add(server, call, -by),
        None => {}
    }
}

/// Adds `by` to the integer at the key (0 if missing), keeping its TTL.
fn add(server: &mut Server, call: &mut Call<'_>, by: i64) {
    let key = &call.args[1];
    let found = call.db(server).get_str(key, call.now).map(|v| v.map(|v| parse_redis_int(v)));
    let current = match typed(call, found) {
        None => return,
        Some(None) => 0,
        Some(Some(Some(n))) => n,
        Some(Some(None)) => return call.out.error(NOT_AN_INTEGER),
    };
    let Some(sum) = current.checked_add(by) else {
        return call.out.error("ERR increment or decrement would overflow");
    };
    call.db(server).set_str(key, Bytes::from(decimal(sum, &mut [0; 20])), Ttl::Keep);
    call.out.int(sum);
}

/// `INCRBYFLOAT key increment`: the sum as a bulk string, kept as text.
pub fn incrbyfloat(server: &mut Server, call: &mut Call<'_>) {
    const NOT_A_FLOAT: &str = "ERR value is not a valid float";
    let key = &call.args[1];
    let found = call.db(server).get_str(key, call.now).map(|v| v.map(|v| parse_float(v)));
    let current = match typed(call, found) {
        None => return,
        Some(None) => 0.0,
        Some(Some(Some(n))) => n,
        Some(Some(None)) => return call.out.error(NOT_A_FLOAT),
    };
    let Some(by) = parse_float(call.arg(2)) else { return call.out.error(NOT_A_FLOAT) };
    let sum = current + by;
    if !sum.is_finite() {
        return call.out.error("ERR increment would produce NaN or Infinity");
    }
    let text = format_float(sum);
    call.db(server).set_str(key, Bytes::from(text.as_bytes()), Ttl::Keep);
    call.out.bulk(text.as_bytes());
}

/// A string read as Redis's `string2ld`: a finite float, no blanks.
pub fn parse_float(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace() || c == '+' && text.len() == 1) {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `APPEND key value`: the new length.
pub fn append(server: &mut Server, call: &mut Call<'_>) {
    let (key, tail) = (&call.args[1], &call.args[2]);
    let max = server.settings.proto_max_bulk_len;
    let found = call.db(server).get_str(key, call.now);
    let Some(old) = typed(call, found) else { return };
    let old = old.map_or(&[][..], |v| v.as_slice());
    let len = old.len() + tail.len();
    if len > max {
        return call.out.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    }
    let mut joined = Vec::with_capacity(len);
    joined.extend_from_slice(old);
    joined.extend_from_slice(tail);
    call.db(server).set_str(key, Bytes::from(joined), Ttl::Keep);
    call.out.int(len as i64);
}

/// `STRLEN key`.
pub fn strlen(server: &mut Server, call: &mut Call<'_>) {
    let found = call.db(server).get_str(&call.args[1], call.now).map(|v| v.map_or(0, |v| v.len()));
    if let Some(len) = typed(call, found) {
        call.out.int(len as i64);
    }
}

/// `MGET key...`: nil for a missing key and for one of another type.
pub fn mget(server: &mut Server, call: &mut Call<'_>) {
    call.out.array(call.args.len() - 1);
    let store = &mut server.dbs[call.session.db];
    for key in &call.args[1..] {
        let value = store.get_str(key, call.now).ok().flatten();
        call.out.bulk_or_nil(value.map(|v| v.as_slice()));
    }
}

/// `MSET key value [key value ...]`.
pub fn mset(server: &mut Server, call: &mut Call<'_>) {
    if call.args.len().is_multiple_of(2) {
        return call.wrong_arity("mset");
    }
    let store = &mut server.dbs[call.session.db];
    for pair in call.args[1..].chunks_exact(2) {
        store.set_str(&pair[0], Bytes::from(&pair[1][..]), Ttl::Clear);
    }
    call.out.ok();
}
