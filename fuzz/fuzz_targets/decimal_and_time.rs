//! The parsers of what clients send as text: credit strings (`dec_str`), instants and dates.
//! Whatever they accept prints back to something they accept as the same value.
#![no_main]

use cec_client::wire::dec_str;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(d) = dec_str::parse(s) {
        assert!(d >= rust_decimal::Decimal::ZERO, "{s:?} parsed to a negative {d}");
        let printed = d.normalize().to_string();
        assert_eq!(dec_str::parse(&printed).ok(), Some(d), "{s:?} -> {printed:?}");
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        let printed = t.to_string();
        assert_eq!(printed.parse::<jiff::Timestamp>().ok(), Some(t), "{s:?} -> {printed:?}");
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        let printed = d.to_string();
        assert_eq!(printed.parse::<jiff::civil::Date>().ok(), Some(d), "{s:?} -> {printed:?}");
    }
});
