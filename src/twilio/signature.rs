//! Twilio's request signature (`X-Twilio-Signature`): proof that a webhook came from Twilio
//! and was not changed on the way. Without this check anyone could post fake texts into the
//! referral conversation or fake delivery receipts.
//!
//! The scheme is Twilio's, not ours: HMAC-SHA1 keyed with the account's auth token over the
//! full URL Twilio called followed by every form parameter's name and value, sorted by name.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use url::Url;

type HmacSha1 = Hmac<Sha1>;

/// base64(HMAC-SHA1(auth_token, url + concat of key+value for params sorted by key (then by
/// value for repeated keys))).
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    BASE64.encode(signed(auth_token, url, params).finalize().into_bytes())
}

/// Constant-time (the hmac crate's verify, never ==). Like Twilio's own validators, also
/// accepts the URL with its default port added or removed (https 443 / http 80), because
/// Twilio signs the URL as configured and proxies may add or drop the port; an explicit
/// non-default port is only accepted as given.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(tag) = BASE64.decode(signature) else {
        return false;
    };
    url_variants(url).iter().any(|candidate| {
        signed(auth_token, candidate, params)
            .verify_slice(&tag)
            .is_ok()
    })
}

/// The MAC over Twilio's canonical string, ready to finalise or verify.
fn signed(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    // Tuple order is by key, then by value: what Twilio does for repeated keys.
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_unstable();
    for (key, value) in sorted {
        mac.update(key.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The URL as given, and for http(s) the same URL with the scheme's default port added (when
/// it has no port) or removed (when it names the default port). The text is edited rather
/// than re-serialised by `Url`, which would normalise other parts Twilio signed as they were.
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Ok(parsed) = Url::parse(url) else {
        return variants;
    };
    let default_port = match parsed.scheme() {
        "https" => 443,
        "http" => 80,
        _ => return variants,
    };
    let Some((host_start, host_end)) = host_and_port_span(url) else {
        return variants;
    };
    let host_and_port = &url[host_start..host_end];
    // A colon inside "[…]" belongs to an IPv6 address, not to a port.
    let after_brackets = host_and_port.rfind(']').map_or(0, |i| i + 1);
    match host_and_port[after_brackets..].rfind(':') {
        Some(colon) => {
            let colon = host_start + after_brackets + colon;
            if url[colon + 1..host_end].parse::<u16>() == Ok(default_port) {
                variants.push(format!("{}{}", &url[..colon], &url[host_end..]));
            }
        }
        None => variants.push(format!(
            "{}:{default_port}{}",
            &url[..host_end],
            &url[host_end..]
        )),
    }
    variants
}

/// Byte range of "host[:port]" in an absolute URL: after "scheme://" and any "user@", up to
/// the path, query or fragment.
fn host_and_port_span(url: &str) -> Option<(usize, usize)> {
    let authority_start = url.find("://")? + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let host_start = url[authority_start..authority_end]
        .rfind('@')
        .map_or(authority_start, |i| authority_start + i + 1);
    Some((host_start, authority_end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    /// Vectors computed with Twilio's own helper library (see the file's "about").
    const CONFORMANCE: &str = include_str!("../../tests/conformance/twilio-signatures.json");

    #[derive(Deserialize)]
    struct Conformance {
        cases: Vec<Case>,
    }

    #[derive(Deserialize)]
    struct Case {
        description: String,
        auth_token: String,
        url: String,
        params: BTreeMap<String, String>,
        signature: String,
        valid: bool,
    }

    fn conformance_cases() -> Vec<Case> {
        serde_json::from_str::<Conformance>(CONFORMANCE)
            .unwrap_or_else(|e| panic!("conformance file: {e}"))
            .cases
    }

    fn pairs(params: &BTreeMap<String, String>) -> Vec<(String, String)> {
        params.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const TOKEN: &str = "12345abcdef67890fedcba0987654321";

    #[test]
    fn every_conformance_case_verifies_as_twilio_says() {
        let cases = conformance_cases();
        assert!(cases.len() >= 10);
        assert!(
            cases.iter().any(|c| !c.valid),
            "tampered cases are included"
        );
        for case in cases {
            let params = pairs(&case.params);
            assert_eq!(
                verify(&case.auth_token, &case.url, &params, &case.signature),
                case.valid,
                "{}",
                case.description
            );
        }
    }

    #[test]
    fn compute_reproduces_every_valid_conformance_signature() {
        for case in conformance_cases().into_iter().filter(|c| c.valid) {
            let params = pairs(&case.params);
            assert_eq!(
                compute(&case.auth_token, &case.url, &params),
                case.signature,
                "{}",
                case.description
            );
        }
    }

    #[test]
    fn parameter_order_does_not_matter_and_repeated_keys_sort_by_value() {
        let url = "https://crht.example.nhs.uk/webhooks/twilio/sms";
        let forward = params(&[("A", "1"), ("B", "2"), ("A", "0")]);
        let backward = params(&[("B", "2"), ("A", "0"), ("A", "1")]);
        assert_eq!(
            compute(TOKEN, url, &forward),
            compute(TOKEN, url, &backward)
        );

        let mut mac = HmacSha1::new_from_slice(TOKEN.as_bytes()).expect("any key length");
        mac.update(format!("{url}A0A1B2").as_bytes());
        assert_eq!(
            compute(TOKEN, url, &forward),
            BASE64.encode(mac.finalize().into_bytes())
        );
    }

    #[test]
    fn default_ports_may_be_added_or_removed_but_others_must_match() {
        let p = params(&[("Body", "hello")]);
        let cases = [
            // (signed for, received at, accepted)
            ("https://h.example/sms", "https://h.example/sms", true),
            ("https://h.example/sms", "https://h.example:443/sms", true),
            ("https://h.example:443/sms", "https://h.example/sms", true),
            ("http://h.example/sms", "http://h.example:80/sms", true),
            ("http://h.example:80/sms", "http://h.example/sms", true),
            ("https://h.example?x=1", "https://h.example:443?x=1", true),
            (
                "https://user@h.example/sms",
                "https://user@h.example:443/sms",
                true,
            ),
            ("https://[::1]/sms", "https://[::1]:443/sms", true),
            ("https://[::1]:443/sms", "https://[::1]/sms", true),
            (
                "https://h.example:8443/sms",
                "https://h.example:8443/sms",
                true,
            ),
            ("https://h.example:8443/sms", "https://h.example/sms", false),
            (
                "https://h.example:8443/sms",
                "https://h.example:443/sms",
                false,
            ),
            ("https://h.example/sms", "https://h.example:8443/sms", false),
            ("http://h.example/sms", "http://h.example:443/sms", false),
            ("https://h.example/sms", "https://h.example:80/sms", false),
            ("https://h.example/sms", "http://h.example/sms", false),
            ("https://h.example/sms", "https://h.example/sms/", false),
        ];
        for (signed_for, received_at, accepted) in cases {
            let signature = compute(TOKEN, signed_for, &p);
            assert_eq!(
                verify(TOKEN, received_at, &p, &signature),
                accepted,
                "signed for {signed_for}, received at {received_at}"
            );
        }
    }

    #[test]
    fn rejects_malformed_or_foreign_signatures() {
        let url = "https://crht.example.nhs.uk/webhooks/twilio/sms";
        let p = params(&[("Body", "hello")]);
        let good = compute(TOKEN, url, &p);
        assert!(verify(TOKEN, url, &p, &good));
        let truncated = BASE64.encode(&BASE64.decode(&good).unwrap_or_default()[..19]);
        for bad in [
            "",
            "not base64!",
            "AAAA",
            truncated.as_str(),
            &good.to_lowercase(),
        ] {
            assert!(!verify(TOKEN, url, &p, bad), "{bad:?}");
        }
        assert!(!verify("another-token", url, &p, &good));
        assert!(!verify(TOKEN, url, &[], &good));
        assert!(!verify(TOKEN, "not a url", &p, &good));
    }

    fn signed_request() -> impl Strategy<Value = (String, BTreeMap<String, String>)> {
        // Keys are ASCII letters and values never are, and values are non-empty: so a
        // changed key or value always changes the string that is signed.
        (
            "https?://[a-z]{1,10}\\.example(:[0-9]{2,5})?/[a-z/]{0,20}(\\?[a-z]=[0-9])?",
            prop::collection::btree_map("[A-Z][a-zA-Z]{0,10}", "[^a-zA-Z]{1,20}", 1..8),
        )
    }

    const URL_LIKE: &str = "[a-z]{0,5}://[a-z@:\\[\\]0-9.]{0,20}[/?#]?.{0,5}";

    proptest! {
        #[test]
        fn changing_a_value_breaks_verification(
            (url, map) in signed_request(),
            which in any::<prop::sample::Index>(),
            extra in "[^a-zA-Z]",
        ) {
            let original = pairs(&map);
            let signature = compute(TOKEN, &url, &original);
            prop_assert!(verify(TOKEN, &url, &original, &signature));
            let mut tampered = original.clone();
            tampered[which.index(original.len())].1.push_str(&extra);
            prop_assert!(!verify(TOKEN, &url, &tampered, &signature));
        }

        #[test]
        fn changing_a_key_breaks_verification(
            (url, map) in signed_request(),
            which in any::<prop::sample::Index>(),
            extra in "[a-zA-Z]",
        ) {
            let original = pairs(&map);
            let signature = compute(TOKEN, &url, &original);
            let mut tampered = original.clone();
            tampered[which.index(original.len())].0.push_str(&extra);
            prop_assert!(!verify(TOKEN, &url, &tampered, &signature));
        }

        #[test]
        fn removing_or_adding_a_param_breaks_verification(
            (url, map) in signed_request(),
            which in any::<prop::sample::Index>(),
        ) {
            let original = pairs(&map);
            let signature = compute(TOKEN, &url, &original);
            let mut fewer = original.clone();
            fewer.remove(which.index(original.len()));
            prop_assert!(!verify(TOKEN, &url, &fewer, &signature));
            let mut more = original.clone();
            more.push(("Injected".to_owned(), "1".to_owned()));
            prop_assert!(!verify(TOKEN, &url, &more, &signature));
        }

        #[test]
        fn changing_the_url_breaks_verification(
            (url, map) in signed_request(),
            extra in "[a-z0-9/]",
        ) {
            let original = pairs(&map);
            let signature = compute(TOKEN, &url, &original);
            let longer = format!("{}{}", url, extra);
            prop_assert!(!verify(TOKEN, &longer, &original, &signature));
            let other_scheme = match url.strip_prefix("https") {
                Some(rest) => format!("http{rest}"),
                None => url.replacen("http", "https", 1),
            };
            prop_assert!(!verify(TOKEN, &other_scheme, &original, &signature));
            let other_host = url.replacen("://", "://x", 1);
            prop_assert!(!verify(TOKEN, &other_host, &original, &signature));
        }

        #[test]
        fn verify_never_panics(
            url in any::<String>(),
            signature in any::<String>(),
            key in any::<String>(),
            value in any::<String>(),
        ) {
            let _ = verify(TOKEN, &url, &[(key, value)], &signature);
        }

        #[test]
        fn verify_never_panics_on_url_like_text(url in URL_LIKE) {
            let _ = verify(TOKEN, &url, &[], "AAAA");
        }
    }
}
