//! Time zones (bundled tz database, no file I/O) and a `strftime` that renders like glibc's C locale.
//!
//! Asterisk formats `Date:` with `%a, %d %b %Y %H:%M:%S %z` and `X-Asterisk-VM-Orig-date`
//! with `emaildateformat` (default `%A, %B %d, %Y at %r`), in the mailbox's zone.

use jiff::{Timestamp, tz::TimeZone};

use crate::error::BuildError;

/// Asterisk's default `emaildateformat`.
pub const DEFAULT_EMAIL_DATE_FORMAT: &str = "%A, %B %d, %Y at %r";

/// The `strftime` format of Asterisk's `Date:` header.
pub const RFC_DATE_FORMAT: &str = "%a, %d %b %Y %H:%M:%S %z";

/// Longest strftime output we produce (Asterisk's buffer is 256 bytes).
const MAX_OUTPUT: usize = 1024;

/// A mailbox's time zone: an IANA name from the bundled database, a POSIX TZ string, or UTC.
#[derive(Debug, Clone, PartialEq)]
pub struct MailboxZone {
    name: String,
    zone: TimeZone,
}

impl MailboxZone {
    /// UTC (what a mailbox without `tz=` gets here; Asterisk would use the host's zone).
    pub fn utc() -> MailboxZone {
        MailboxZone {
            name: "UTC".to_owned(),
            zone: TimeZone::UTC,
        }
    }

    /// Looks a zone up by IANA name (`Europe/Berlin`) in the bundled tz database,
    /// falling back to a POSIX TZ string (`CET-1CEST,M3.5.0,M10.5.0/3`).
    pub fn named(name: &str) -> Result<MailboxZone, BuildError> {
        let name = name.trim();
        let zone = TimeZone::get(name)
            .or_else(|_| TimeZone::posix(name))
            .map_err(|_| BuildError::UnknownTimeZone {
                name: name.to_owned(),
            })?;
        Ok(MailboxZone {
            name: name.to_owned(),
            zone,
        })
    }

    /// The name it was created from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Formats `epoch` (Unix seconds) in this zone with a glibc-compatible C-locale `strftime`.
    pub fn strftime(&self, format: &str, epoch: i64) -> Result<String, BuildError> {
        let ts = Timestamp::from_second(epoch).map_err(|_| BuildError::TimeOutOfRange { epoch })?;
        let info = self.zone.to_offset_info(ts);
        let offset = info.offset();
        let dt = offset.to_datetime(ts);
        let tm = BrokenDown {
            year: i64::from(dt.year()),
            month: dt.month().unsigned_abs(),
            day: dt.day().unsigned_abs(),
            hour: dt.hour().unsigned_abs(),
            minute: dt.minute().unsigned_abs(),
            second: dt.second().unsigned_abs(),
            weekday: dt.weekday().to_sunday_zero_offset().unsigned_abs(),
            yday: dt.day_of_year().unsigned_abs(),
            iso_year: i64::from(dt.date().iso_week_date().year()),
            iso_week: dt.date().iso_week_date().week().unsigned_abs(),
            offset_secs: offset.seconds(),
            abbreviation: info.abbreviation().to_owned(),
            epoch,
        };
        Ok(format_tm(format, &tm))
    }
}

struct BrokenDown {
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    /// 0 = Sunday.
    weekday: u8,
    /// 1-based day of the year.
    yday: u16,
    iso_year: i64,
    iso_week: u8,
    offset_secs: i32,
    abbreviation: String,
    epoch: i64,
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn day_name(tm: &BrokenDown) -> &'static str {
    DAYS.get(usize::from(tm.weekday)).copied().unwrap_or("?")
}

fn month_name(tm: &BrokenDown) -> &'static str {
    MONTHS
        .get(usize::from(tm.month).wrapping_sub(1))
        .copied()
        .unwrap_or("?")
}

fn abbreviated(name: &str) -> &str {
    name.get(..3).unwrap_or(name)
}

/// Padding chosen by a glibc flag character.
#[derive(Clone, Copy, PartialEq)]
enum Pad {
    Default,
    None,
    Space,
    Zero,
}

fn push_number(out: &mut String, value: i64, width: usize, default_pad: char, pad: Pad) {
    let digits = value.unsigned_abs().to_string();
    if value < 0 {
        out.push('-');
    }
    let fill = match pad {
        Pad::None => None,
        Pad::Space => Some(' '),
        Pad::Zero => Some('0'),
        Pad::Default => Some(default_pad),
    };
    if let Some(fill) = fill {
        for _ in digits.len()..width {
            out.push(fill);
        }
    }
    out.push_str(&digits);
}

fn hour12(hour: u8) -> u8 {
    match hour % 12 {
        0 => 12,
        h => h,
    }
}

/// Week number of the year with weeks starting on `first_weekday` (0 = Sunday, 1 = Monday).
fn week_of_year(tm: &BrokenDown, first_weekday: u8) -> i64 {
    let yday0 = i64::from(tm.yday) - 1;
    let wday = i64::from(tm.weekday);
    (yday0 + 7 - (wday - i64::from(first_weekday)).rem_euclid(7)) / 7
}

fn format_tm(format: &str, tm: &BrokenDown) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() > MAX_OUTPUT {
            break;
        }
        if c != '%' {
            out.push(c);
            continue;
        }
        // Flags, width and E/O modifiers, as glibc accepts them.
        let mut spec = String::from("%");
        let mut pad = Pad::Default;
        let mut upper = false;
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => pad = Pad::None,
                '_' => pad = Pad::Space,
                '0' => pad = Pad::Zero,
                '^' => upper = true,
                '#' => {}
                _ => break,
            }
            spec.push(flag);
            chars.next();
        }
        let mut width: Option<usize> = None;
        while let Some(&digit) = chars.peek() {
            let Some(value) = digit.to_digit(10) else {
                break;
            };
            width = Some(
                width
                    .unwrap_or(0)
                    .saturating_mul(10)
                    .saturating_add(value as usize)
                    .min(64),
            );
            spec.push(digit);
            chars.next();
        }
        while let Some(&modifier) = chars.peek() {
            if modifier == 'E' || modifier == 'O' {
                spec.push(modifier);
                chars.next();
            } else {
                break;
            }
        }
        let Some(conv) = chars.next() else {
            out.push_str(&spec);
            break;
        };
        let mut piece = String::new();
        let num = |piece: &mut String, value: i64, w: usize, default_pad: char| {
            push_number(piece, value, width.unwrap_or(w), default_pad, pad);
        };
        match conv {
            'a' => piece.push_str(abbreviated(day_name(tm))),
            'A' => piece.push_str(day_name(tm)),
            'b' | 'h' => piece.push_str(abbreviated(month_name(tm))),
            'B' => piece.push_str(month_name(tm)),
            'c' => piece.push_str(&format_tm("%a %b %e %H:%M:%S %Y", tm)),
            'C' => num(&mut piece, tm.year.div_euclid(100), 2, '0'),
            'd' => num(&mut piece, i64::from(tm.day), 2, '0'),
            'D' | 'x' => piece.push_str(&format_tm("%m/%d/%y", tm)),
            'e' => num(&mut piece, i64::from(tm.day), 2, ' '),
            'F' => piece.push_str(&format_tm("%Y-%m-%d", tm)),
            'g' => num(&mut piece, tm.iso_year.rem_euclid(100), 2, '0'),
            'G' => num(&mut piece, tm.iso_year, 1, '0'),
            'H' => num(&mut piece, i64::from(tm.hour), 2, '0'),
            'I' => num(&mut piece, i64::from(hour12(tm.hour)), 2, '0'),
            'j' => num(&mut piece, i64::from(tm.yday), 3, '0'),
            'k' => num(&mut piece, i64::from(tm.hour), 2, ' '),
            'l' => num(&mut piece, i64::from(hour12(tm.hour)), 2, ' '),
            'm' => num(&mut piece, i64::from(tm.month), 2, '0'),
            'M' => num(&mut piece, i64::from(tm.minute), 2, '0'),
            'n' => piece.push('\n'),
            'p' => piece.push_str(if tm.hour < 12 { "AM" } else { "PM" }),
            'P' => piece.push_str(if tm.hour < 12 { "am" } else { "pm" }),
            'r' => piece.push_str(&format_tm("%I:%M:%S %p", tm)),
            'R' => piece.push_str(&format_tm("%H:%M", tm)),
            's' => num(&mut piece, tm.epoch, 1, '0'),
            'S' => num(&mut piece, i64::from(tm.second), 2, '0'),
            't' => piece.push('\t'),
            'T' | 'X' => piece.push_str(&format_tm("%H:%M:%S", tm)),
            'u' => num(
                &mut piece,
                i64::from(if tm.weekday == 0 { 7 } else { tm.weekday }),
                1,
                '0',
            ),
            'U' => num(&mut piece, week_of_year(tm, 0), 2, '0'),
            'V' => num(&mut piece, i64::from(tm.iso_week), 2, '0'),
            'w' => num(&mut piece, i64::from(tm.weekday), 1, '0'),
            'W' => num(&mut piece, week_of_year(tm, 1), 2, '0'),
            'y' => num(&mut piece, tm.year.rem_euclid(100), 2, '0'),
            'Y' => num(&mut piece, tm.year, 1, '0'),
            'z' => {
                let secs = tm.offset_secs;
                piece.push(if secs < 0 { '-' } else { '+' });
                let abs = secs.unsigned_abs();
                let hhmm = (abs / 3600) * 100 + (abs / 60) % 60;
                push_number(
                    &mut piece,
                    i64::from(hhmm),
                    width.map_or(4, |w| w.saturating_sub(1)),
                    '0',
                    pad,
                );
            }
            'Z' => piece.push_str(&tm.abbreviation),
            '%' => piece.push('%'),
            other => {
                // glibc copies an unknown conversion through unchanged.
                piece.push_str(&spec);
                piece.push(other);
            }
        };
        if upper {
            piece = piece.to_uppercase();
        }
        if let Some(width) = width
            && !conv.is_ascii_digit()
            && matches!(
                conv,
                'a' | 'A' | 'b' | 'h' | 'B' | 'p' | 'P' | 'Z' | 'c' | 'r' | 'R' | 'T' | 'D' | 'F'
            )
        {
            let fill = if pad == Pad::Zero { '0' } else { ' ' };
            for _ in piece.chars().count()..width {
                out.push(fill);
            }
        }
        out.push_str(&piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Corpus 01: epoch 1795674119 is "Thu, 26 Nov 2026 06:21:59 +0000" in UTC.
    #[test]
    fn corpus_dates_in_utc() {
        let utc = MailboxZone::utc();
        assert_eq!(
            utc.strftime(RFC_DATE_FORMAT, 1_795_674_119).unwrap(),
            "Thu, 26 Nov 2026 06:21:59 +0000"
        );
        assert_eq!(
            utc.strftime(DEFAULT_EMAIL_DATE_FORMAT, 1_795_674_119)
                .unwrap(),
            "Thursday, November 26, 2026 at 06:21:59 AM"
        );
    }

    // Corpus 09: Europe/Berlin in November is +0100.
    #[test]
    fn corpus_dates_in_berlin() {
        let berlin = MailboxZone::named("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.strftime(RFC_DATE_FORMAT, 1_795_674_235).unwrap(),
            "Thu, 26 Nov 2026 07:23:55 +0100"
        );
        assert_eq!(
            berlin
                .strftime(DEFAULT_EMAIL_DATE_FORMAT, 1_795_674_235)
                .unwrap(),
            "Thursday, November 26, 2026 at 07:23:55 AM"
        );
        // Summer time: 2026-07-01 12:00:00 UTC is 14:00 CEST.
        assert_eq!(
            berlin.strftime("%H:%M %z %Z", 1_782_907_200).unwrap(),
            "14:00 +0200 CEST"
        );
    }

    #[test]
    fn glibc_conversions() {
        let utc = MailboxZone::utc();
        // 2024-01-07 (a Sunday) 13:05:09 UTC.
        let t = 1_704_632_709;
        assert_eq!(
            utc.strftime("%e|%k|%l|%I|%p|%P|%j|%u|%w", t).unwrap(),
            " 7|13| 1|01|PM|pm|007|7|0"
        );
        assert_eq!(
            utc.strftime("%-d %_m %U %W %V %G %g %C %y", t).unwrap(),
            "7  1 01 01 01 2024 24 20 24"
        );
        assert_eq!(
            utc.strftime("%D %F %T %R %c", t).unwrap(),
            "01/07/24 2024-01-07 13:05:09 13:05 Sun Jan  7 13:05:09 2024"
        );
        assert_eq!(
            utc.strftime("%% %q %^a %s", t).unwrap(),
            "% %q SUN 1704632709"
        );
        assert_eq!(utc.strftime("%", t).unwrap(), "%");
    }

    /// Every conversion, three zones, eight times, against output recorded from glibc.
    #[test]
    fn matches_recorded_glibc_output() {
        let table = include_str!("../tests/fixtures/glibc-strftime.txt");
        let mut lines = table.lines().filter(|line| !line.starts_with('#'));
        let format = lines.next().unwrap();
        let mut checked = 0;
        for line in lines {
            let mut parts = line.splitn(3, ' ');
            let (zone, epoch, expected) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            let zone = if zone == "UTC" {
                MailboxZone::utc()
            } else {
                MailboxZone::named(zone).unwrap()
            };
            assert_eq!(
                zone.strftime(format, epoch.parse().unwrap()).unwrap(),
                expected,
                "{line}"
            );
            checked += 1;
        }
        assert_eq!(checked, 24);
    }

    #[test]
    fn negative_offsets_and_midnight() {
        let ny = MailboxZone::named("America/New_York").unwrap();
        // 2024-01-01 05:00:00 UTC is midnight in New York.
        assert_eq!(
            ny.strftime("%I:%M %p %z %Z", 1_704_085_200).unwrap(),
            "12:00 AM -0500 EST"
        );
        let kolkata = MailboxZone::named("Asia/Kolkata").unwrap();
        assert_eq!(kolkata.strftime("%z", 0).unwrap(), "+0530");
    }

    #[test]
    fn unknown_zone_is_an_error() {
        assert!(matches!(
            MailboxZone::named("Mars/Olympus"),
            Err(BuildError::UnknownTimeZone { .. })
        ));
    }
}
