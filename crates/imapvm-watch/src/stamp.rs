//! [`rfc3339`]: the one way the watcher's events, reports and health lines print a time.

use std::time::SystemTime;

/// `at` as RFC 3339 UTC with milliseconds (`2026-11-26T07:22:55.123Z`), as the CLI prints it.
pub fn rfc3339(at: SystemTime) -> String {
    match jiff::Timestamp::try_from(at) {
        Ok(ts) => {
            let millis = ts.as_millisecond();
            match jiff::Timestamp::from_millisecond(millis) {
                Ok(t) => format!("{t:.3}"),
                Err(_) => ts.to_string(),
            }
        }
        Err(_) => "1970-01-01T00:00:00.000Z".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_has_milliseconds_and_utc() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_674_094_123);
        // Checked with Python: datetime.utcfromtimestamp(1795674094.123).
        assert_eq!(rfc3339(at), "2026-11-26T06:21:34.123Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }
}
