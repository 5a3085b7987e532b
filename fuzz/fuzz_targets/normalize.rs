//! The normalizer must accept any UTF-8 and return clean text: trimmed, lowercase, single spaces,
//! no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let n = pantau::text::normalize::normalize(s);
        assert_eq!(n.trim(), n);
        assert!(!n.contains("  "));
        assert!(!n.chars().any(char::is_control));
    }
});
