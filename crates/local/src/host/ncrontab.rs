//! NCRONTAB schedules as the Functions timer trigger reads them: six fields, `second minute hour day month
//! day-of-week`, evaluated in UTC. Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists, and
//! names (`JAN`, `MON`). Day of week runs 0-6 from Sunday (7 is Sunday too). As in NCrontab, a time matches when
//! every field matches, day of month and day of week included.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use std::fmt;
use std::str::FromStr;

/// A parsed six-field schedule.
#[derive(Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn parse_value(s: &str, names: &[&str], first: u32) -> Option<u32> {
    if let Ok(n) = s.parse() {
        return Some(n);
    }
    let upper = s.to_ascii_uppercase();
    names
        .iter()
        .position(|n| upper.starts_with(n))
        .map(|i| i as u32 + first)
}

fn parse_field(field: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let mut bits = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad step in {part:?}"))?,
            ),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = parse_value(a, names, min).ok_or_else(|| format!("bad value in {part:?}"))?;
            let b = parse_value(b, names, min).ok_or_else(|| format!("bad value in {part:?}"))?;
            (a, b)
        } else {
            let a =
                parse_value(range, names, min).ok_or_else(|| format!("bad value in {part:?}"))?;
            (a, if part.contains('/') { max } else { a })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{part:?} is outside {min}-{max}"));
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "schedule {text:?} has {} fields: NCRONTAB needs six (second minute hour day month day-of-week)",
                fields.len()
            ));
        }
        let err = |e: String| format!("schedule {text:?}: {e}");
        let mut weekdays = parse_field(fields[5], 0, 7, &WEEKDAYS).map_err(err)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Self {
            text: text.to_string(),
            seconds: parse_field(fields[0], 0, 59, &[]).map_err(err)?,
            minutes: parse_field(fields[1], 0, 59, &[]).map_err(err)?,
            hours: parse_field(fields[2], 0, 23, &[]).map_err(err)?,
            days: parse_field(fields[3], 1, 31, &[]).map_err(err)?,
            months: parse_field(fields[4], 1, 12, &MONTHS).map_err(err)?,
            weekdays,
        })
    }
}

fn has(bits: u64, v: u32) -> bool {
    bits & (1 << v) != 0
}

impl Schedule {
    /// The first occurrence strictly after `after`, or None if there is none within ten years.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = after.with_nanosecond(0)? + Duration::seconds(1);
        let limit = after + Duration::days(3660);
        while t <= limit {
            if !has(self.months, t.month()) {
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                t = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single()?;
            } else if !has(self.days, t.day())
                || !has(self.weekdays, t.weekday().num_days_from_sunday())
            {
                t = (t + Duration::days(1))
                    .with_hour(0)?
                    .with_minute(0)?
                    .with_second(0)?;
            } else if !has(self.hours, t.hour()) {
                t = (t + Duration::hours(1)).with_minute(0)?.with_second(0)?;
            } else if !has(self.minutes, t.minute()) {
                t = (t + Duration::minutes(1)).with_second(0)?;
            } else if !has(self.seconds, t.second()) {
                t += Duration::seconds(1);
            } else {
                return Some(t);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn next(expr: &str, after: &str) -> String {
        let s: Schedule = expr.parse().unwrap();
        s.next_after(at(after)).unwrap().to_rfc3339()
    }

    #[test]
    fn every_five_minutes_fires_on_the_next_multiple_of_five() {
        assert_eq!(
            next("0 */5 * * * *", "2030-01-01T10:07:30Z"),
            "2030-01-01T10:10:00+00:00"
        );
    }

    #[test]
    fn the_next_occurrence_is_strictly_after_the_given_time() {
        assert_eq!(
            next("0 0 2 * * *", "2030-01-01T02:00:00Z"),
            "2030-01-02T02:00:00+00:00"
        );
    }

    #[test]
    fn weekday_numbers_count_from_sunday_as_zero() {
        // 2030-01-01 is a Tuesday.
        assert_eq!(
            next("0 30 9 * * 1-5", "2030-01-04T10:00:00Z"),
            "2030-01-07T09:30:00+00:00"
        );
        assert_eq!(
            next("0 0 0 * * 0", "2030-01-01T00:00:00Z"),
            "2030-01-06T00:00:00+00:00"
        );
        assert_eq!(
            next("0 0 0 * * SUN", "2030-01-01T00:00:00Z"),
            next("0 0 0 * * 7", "2030-01-01T00:00:00Z")
        );
    }

    #[test]
    fn months_lists_and_ranges_are_understood() {
        assert_eq!(
            next("0 0 0 1 JAN,JUL *", "2030-02-01T00:00:00Z"),
            "2030-07-01T00:00:00+00:00"
        );
        assert_eq!(
            next("15,45 * * * * *", "2030-01-01T00:00:20Z"),
            "2030-01-01T00:00:45+00:00"
        );
        assert_eq!(
            next("0 0 22-23 * * *", "2030-12-31T23:30:00Z"),
            "2031-01-01T22:00:00+00:00"
        );
    }

    #[test]
    fn a_five_field_or_malformed_schedule_is_refused_with_the_reason() {
        assert!("0 * * * *".parse::<Schedule>().unwrap_err().contains("six"));
        assert!("61 * * * * *".parse::<Schedule>().is_err());
        assert!("*/0 * * * * *".parse::<Schedule>().is_err());
    }

    #[test]
    fn an_impossible_date_has_no_next_occurrence() {
        let s: Schedule = "0 0 0 31 2 *".parse().unwrap();
        assert!(s.next_after(at("2030-01-01T00:00:00Z")).is_none());
    }
}
