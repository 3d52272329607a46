//! TwiML: the XML reply Twilio expects from the inbound webhook.

use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// `<Response>` with one `<Message>` per reply; an empty `<Response/>` sends nothing.
pub fn reply(messages: &[String]) -> String {
    let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
    for message in messages {
        xml.push_str("<Message>");
        xml.push_str(&escape(xml_chars(message).as_ref()));
        xml.push_str("</Message>");
    }
    xml.push_str("</Response>");
    xml
}

/// True for a character XML 1.0 allows in a document (its `Char` production): tab, line feed,
/// carriage return, U+0020–U+D7FF, U+E000–U+FFFD and U+10000 up. Rust strings hold no
/// surrogates, so only the C0 controls and U+FFFE/U+FFFF are left out.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The text with each character XML 1.0 cannot hold (a reply may echo what the person sent,
/// control characters included) replaced by U+FFFD; everything else as it is.
fn xml_chars(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(
            text.chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// The texts of each `<Message>` in a TwiML document (for `simulate` and tests).
pub fn messages(xml: &str) -> Result<Vec<String>, quick_xml::Error> {
    let mut reader = Reader::from_str(xml);
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    loop {
        match reader.read_event()? {
            Event::Start(e) if e.name().as_ref() == "Message" => current = Some(String::new()),
            Event::End(e) if e.name().as_ref() == "Message" => {
                found.extend(current.take());
            }
            Event::Text(t) => {
                if let Some(text) = current.as_mut() {
                    text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(text) = current.as_mut() {
                    if let Some(c) = r.resolve_char_ref()? {
                        text.push(c);
                    } else {
                        text.push_str(match r.into_inner().as_ref() {
                            "amp" => "&",
                            "lt" => "<",
                            "gt" => ">",
                            "quot" => "\"",
                            "apos" => "'",
                            _ => "",
                        });
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_escape_and_parse_back() {
        let texts = vec![
            "Call 999 now <urgent> & safe \"quotes\"".to_owned(),
            "help 😢 اردو\nline two".to_owned(),
        ];
        let xml = reply(&texts);
        assert!(xml.starts_with("<?xml") && xml.contains("<Response><Message>"));
        assert!(!xml.contains("<urgent>"));
        assert_eq!(messages(&xml).expect("parses"), texts);
    }

    #[test]
    fn characters_xml_forbids_are_replaced_and_the_rest_kept() {
        let echoed =
            "name\u{0}\u{1}\u{8}\u{B}\u{C}\u{1F}\u{FFFE}\u{FFFF} ok\t\u{202E}\u{1F62D}".to_owned();
        let xml = reply(std::slice::from_ref(&echoed));
        // A strict XML 1.0 parser accepts it.
        roxmltree::Document::parse(&xml).expect("valid XML 1.0");
        assert_eq!(
            messages(&xml).expect("parses"),
            [
                "name\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD} ok\t\u{202E}\u{1F62D}"
            ]
        );
    }

    #[test]
    fn no_replies_is_an_empty_response() {
        let xml = reply(&[]);
        assert!(xml.ends_with("<Response></Response>"));
        assert!(messages(&xml).expect("parses").is_empty());
    }
}
