//! Column types that read and write the same on both engines: instants and calendar days as
//! fixed-width UTC text (sorts correctly), and yes/no flags.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::{AnyTypeInfo, AnyValueRef};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Any, Decode, Encode, Type};
use std::fmt;
use std::ops::Deref;

pub use trellis_domain::readable_day;

/// A moment in time, stored in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Instant(pub DateTime<Utc>);

impl Instant {
    /// Now.
    pub fn now() -> Instant {
        Instant(Utc::now())
    }

    /// The stored text form, microsecond precision ("2026-11-27T16:24:00.000000Z").
    pub fn to_db(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// Parses the stored text form.
    pub fn parse(s: &str) -> Result<Instant, chrono::ParseError> {
        Ok(Instant(
            DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc),
        ))
    }
}

impl Deref for Instant {
    type Target = DateTime<Utc>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_db())
    }
}

impl From<DateTime<Utc>> for Instant {
    fn from(value: DateTime<Utc>) -> Self {
        Instant(value)
    }
}

/// A calendar day (admission date, date of birth), stored as "YYYY-MM-DD".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Day(pub NaiveDate);

impl Day {
    /// The stored text form.
    pub fn to_db(self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

impl Deref for Day {
    type Target = NaiveDate;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_db())
    }
}

impl From<NaiveDate> for Day {
    fn from(value: NaiveDate) -> Self {
        Day(value)
    }
}

macro_rules! text_column {
    ($ty:ty, $parse:expr) => {
        impl Type<Any> for $ty {
            fn type_info() -> AnyTypeInfo {
                <String as Type<Any>>::type_info()
            }
            fn compatible(ty: &AnyTypeInfo) -> bool {
                <String as Type<Any>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, Any> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <Any as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                <String as Encode<'q, Any>>::encode(self.to_db(), buf)
            }
        }

        impl<'r> Decode<'r, Any> for $ty {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <String as Decode<'r, Any>>::decode(value)?;
                let parse: fn(&str) -> Result<$ty, BoxDynError> = $parse;
                parse(&text)
            }
        }
    };
}

text_column!(Instant, |s| Ok(Instant::parse(s)?));
text_column!(Day, |s| Ok(Day(NaiveDate::parse_from_str(s, "%Y-%m-%d")?)));

/// A yes/no column: BOOLEAN on PostgreSQL, INTEGER 0/1 on SQLite (sqlx's Any driver cannot read
/// SQLite's BOOLEAN), read back as a `bool` with `#[sqlx(try_from = "Flag")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }
    fn compatible(ty: &AnyTypeInfo) -> bool {
        <bool as Type<Any>>::compatible(ty)
            || <i64 as Type<Any>>::compatible(ty)
            || <i32 as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        match <bool as Decode<'r, Any>>::decode(value.clone()) {
            Ok(b) => Ok(Flag(b)),
            Err(_) => match <i64 as Decode<'r, Any>>::decode(value.clone()) {
                Ok(n) => Ok(Flag(n != 0)),
                Err(_) => Ok(Flag(<i32 as Decode<'r, Any>>::decode(value)? != 0)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_instants_are_fixed_width_and_round_trip() {
        let t = Instant::parse("2026-03-08T07:00:00Z").expect("parse");
        assert_eq!(t.to_db(), "2026-03-08T07:00:00.000000Z");
        assert_eq!(Instant::parse(&t.to_db()).expect("round trip"), t);
    }
}
