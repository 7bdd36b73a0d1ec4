//! Property tests of [`super::Count`], the parser of `limit`, `offset` and `membersLimit`.

use poem_openapi::types::ParseFromParameter;
use proptest::prelude::*;

use super::{Count, MAX_COUNT};

/// What the parser must decide, computed another way: digits only, and a value that fits.
fn expected(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let significant = text.trim_start_matches('0');
    if significant.len() > 10 {
        return None;
    }
    let value: u64 = significant.parse().unwrap_or(0);
    (value <= u64::from(MAX_COUNT)).then(|| u32::try_from(value).unwrap())
}

proptest! {
    /// Any text: no panic; accepted exactly when it is a whole number from 0 to 2^31-1 written
    /// in ASCII digits (leading zeros allowed), read as that number.
    #[test]
    fn counts_parse_exactly_the_whole_numbers_that_fit(
        text in "\\PC{0,24}|[0-9]{1,30}|[-+ ]?[0-9]{1,12}(\\.[0-9]{0,3}|e[0-9])?|0*214748364[0-9]",
    ) {
        let got = Count::parse_from_parameter(&text).ok().map(|c| c.0);
        prop_assert_eq!(got, expected(&text), "{:?}", text);
    }

    /// Every count in range reads back as itself, and one past the end is refused.
    #[test]
    fn every_count_in_range_reads_back(n in 0..=MAX_COUNT) {
        prop_assert_eq!(Count::parse_from_parameter(&n.to_string()).ok(), Some(Count(n)));
        let past = u64::from(MAX_COUNT) + 1 + u64::from(n);
        prop_assert!(Count::parse_from_parameter(&past.to_string()).is_err());
    }
}
