//! Where a JetStream replay starts, in the one grammar every runtime and CLI reads
//! (schema/README.md, rule 14; the words and units come from the runtime profile's `replay`
//! group): `all`, `new`, a stream sequence (`42`), a duration back from now (`90s`,
//! `1h30m`, `250ms`), or an RFC 3339 time with its offset. Anything else is an
//! `INVALID_ARGUMENT` error that names what was given.
//!
//! ```
//! use natsbridge::jetstream::Start;
//! let now = "2026-12-06T10:00:00Z".parse().unwrap();
//! assert_eq!(Start::parse_at("all", now).unwrap(), Start::All);
//! assert_eq!(Start::parse_at("42", now).unwrap(), Start::Sequence(42));
//! assert_eq!(Start::parse_at("1h30m", now).unwrap(), Start::Since("2026-12-06T08:30:00Z".parse().unwrap()));
//! assert!(Start::parse_at("2026-12-06T09:00:00", now).is_err()); // no offset: which zone?
//! ```

use std::str::FromStr;

use chrono::{DateTime, Utc};
use natsbridge_types::profile::{DURATION_UNITS_MS, ERROR_BAD_OPTION, START_ALL, START_NEW};

use crate::error::{Error, Result};

/// Where a consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Everything the stream holds.
    All,
    /// Only messages published from now on.
    New,
    /// Everything published at or after this time ("the last 10 minutes").
    Since(DateTime<Utc>),
    /// From this stream sequence on.
    Sequence(u64),
}

impl Start {
    /// `text` read in the replay grammar, durations counted back from now.
    pub fn parse(text: &str) -> Result<Start> {
        Start::parse_at(text, Utc::now())
    }

    /// `text` read in the replay grammar, durations counted back from `now`.
    pub fn parse_at(text: &str, now: DateTime<Utc>) -> Result<Start> {
        if text == START_ALL {
            return Ok(Start::All);
        }
        if text == START_NEW {
            return Ok(Start::New);
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<u64>() {
                Ok(n) if n >= 1 && !text.starts_with('0') => Ok(Start::Sequence(n)),
                _ => {
                    Err(refused(text, "a stream sequence is a whole number from 1 on, without leading zeros"))
                }
            };
        }
        if let Some(ms) = duration_ms(text) {
            if ms == 0 {
                return Err(refused(text, &format!("a zero duration replays nothing; say `{START_NEW}`")));
            }
            let back = i64::try_from(ms).ok().and_then(chrono::TimeDelta::try_milliseconds);
            return back
                .and_then(|d| now.checked_sub_signed(d))
                .map(Start::Since)
                .ok_or_else(|| refused(text, "the duration reaches further back than a time can"));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(Start::Since(t.with_timezone(&Utc)));
        }
        let hint = if text.eq_ignore_ascii_case(START_ALL) || text.eq_ignore_ascii_case(START_NEW) {
            format!("did you mean `{}`?", text.to_ascii_lowercase())
        } else if chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
            || chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
        {
            "a time needs its offset, `Z` for UTC or `+09:00`: which zone it is in cannot be guessed"
                .to_owned()
        } else {
            "it is none of those".to_owned()
        };
        Err(refused(text, &hint))
    }
}

/// `1h30m` → 5 400 000; `None` unless `text` is one or more `<digits><unit>` groups.
fn duration_ms(text: &str) -> Option<u64> {
    let mut rest = text;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let (_, factor) = DURATION_UNITS_MS.iter().find(|(u, _)| *u == &rest[..unit_len])?;
        total = total.checked_add(n.checked_mul(*factor)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

fn refused(text: &str, why: &str) -> Error {
    let units: Vec<&str> = DURATION_UNITS_MS.iter().map(|(u, _)| *u).collect();
    Error::new(
        ERROR_BAD_OPTION,
        format!(
            "the replay start {text:?} is not one: {why}. Say `{START_ALL}`, `{START_NEW}`, a stream sequence (`42`), \
             a duration back from now (a number and a unit of {units}, repeated: `90s`, `1h30m`) \
             or an RFC 3339 time with its offset (`2026-12-06T09:00:00Z`)",
            units = units.join(", "),
        ),
    )
}

impl FromStr for Start {
    type Err = Error;

    fn from_str(text: &str) -> Result<Start> {
        Start::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Result<Start> {
        Start::parse_at(text, "2026-12-06T10:00:00Z".parse().unwrap())
    }

    fn since(t: &str) -> Start {
        Start::Since(t.parse().unwrap())
    }

    #[test]
    fn every_form_of_the_grammar() {
        assert_eq!(at(START_ALL).unwrap(), Start::All);
        assert_eq!(at(START_NEW).unwrap(), Start::New);
        assert_eq!(at("7").unwrap(), Start::Sequence(7));
        assert_eq!(at("250ms").unwrap(), since("2026-12-06T09:59:59.750Z"));
        assert_eq!(at("10m").unwrap(), since("2026-12-06T09:50:00Z"));
        assert_eq!(at("1d2h").unwrap(), since("2026-12-05T08:00:00Z"));
        assert_eq!(at("2026-12-06T18:00:00+09:00").unwrap(), since("2026-12-06T09:00:00Z"));
    }

    #[test]
    fn mistakes_are_named() {
        for (text, says) in [
            ("New", "did you mean `new`?"),
            ("2026-12-06T09:00:00", "needs its offset"),
            ("2026-12-06", "needs its offset"),
            ("0s", "say `new`"),
            ("0", "from 1 on"),
            ("007", "leading zeros"),
            ("5 m", "none of those"),
            ("-5m", "none of those"),
            ("5M", "none of those"),
            ("", "none of those"),
            ("99999999999999999999d", "none of those"),
        ] {
            let e = at(text).unwrap_err();
            assert_eq!(e.code(), &natsbridge_types::ErrorCode::InvalidArgument, "{text}");
            assert!(e.message().contains(&format!("{text:?}")) && e.message().contains(says), "{text}: {e}");
        }
    }
}
