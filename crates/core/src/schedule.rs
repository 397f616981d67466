//! Which nightly environments are due: evaluated in the catalog's own time zone, because the Functions host's
//! timers run in UTC on the Consumption plans (WEBSITE_TIME_ZONE is not supported there).

use crate::catalog::Schedule;
use crate::names::chrono_secs;
use chrono::{DateTime, Datelike, Days, Duration, LocalResult, NaiveDate, Offset, TimeZone, Utc};

/// The night (a local date) whose scheduled time has passed and is still within the catch-up window, if any.
///
/// The timer may fire at any time, several times a night, or late: the night it returns is the same for every
/// firing until the next scheduled time, which together with a run id derived from the night makes starting
/// tonight's run idempotent.
pub fn due_night(schedule: &Schedule, now: DateTime<Utc>) -> Option<NaiveDate> {
    let tz = schedule.timezone;
    // `now.with_timezone(&tz).date_naive()` panics at the edges of the calendar: add the offset checked instead.
    let offset = tz.offset_from_utc_datetime(&now.naive_utc()).fix();
    let today = now
        .naive_utc()
        .checked_add_signed(Duration::seconds(offset.local_minus_utc().into()))?
        .date();
    for back in 0..8 {
        // Checked arithmetic throughout: a clock reading at the edge of the calendar must not panic.
        let day = today.checked_sub_days(Days::new(back))?;
        if !schedule.days.contains(&day.weekday()) {
            continue;
        }
        let local = day.and_time(schedule.at);
        let at = match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t,
            LocalResult::Ambiguous(first, _) => first,
            // The time does not exist that day (spring forward): run an hour later.
            LocalResult::None => {
                let Some(later) = local.checked_add_signed(Duration::hours(1)) else {
                    continue;
                };
                match tz.from_local_datetime(&later) {
                    LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t,
                    LocalResult::None => continue,
                }
            }
        }
        .with_timezone(&Utc);
        if at > now {
            continue;
        }
        return (now - at <= chrono_secs(schedule.catch_up_secs)).then_some(day);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};

    fn sched(catch_up_h: u64) -> Schedule {
        Schedule {
            at: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
            timezone: chrono_tz::Europe::Paris,
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            catch_up_secs: catch_up_h * 3600,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_night_is_due_after_its_local_time_and_before_the_catch_up_ends() {
        // Thursday 2026-11-19, 02:00 Paris = 01:00 UTC.
        assert_eq!(due_night(&sched(6), utc("2026-11-19T00:59:00Z")), None);
        assert_eq!(
            due_night(&sched(6), utc("2026-11-19T01:00:00Z")),
            NaiveDate::from_ymd_opt(2026, 11, 19)
        );
        assert_eq!(
            due_night(&sched(6), utc("2026-11-19T06:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 11, 19)
        );
        assert_eq!(due_night(&sched(6), utc("2026-11-19T07:30:00Z")), None);
    }

    #[test]
    fn weekends_are_skipped_and_summer_time_is_honoured() {
        // Saturday 2026-11-21: not a scheduled day; Friday's night is past its catch-up.
        assert_eq!(due_night(&sched(6), utc("2026-11-21T01:30:00Z")), None);
        // In July, 02:00 Paris is 00:00 UTC.
        assert_eq!(
            due_night(&sched(6), utc("2026-07-15T00:10:00Z")),
            NaiveDate::from_ymd_opt(2026, 7, 15)
        );
    }
}
