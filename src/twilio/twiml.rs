//! TwiML: the XML reply Twilio expects from the inbound webhook.

use quick_xml::escape::escape;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// `<Response>` with one `<Message>` per reply; an empty `<Response/>` sends nothing.
pub fn reply(messages: &[String]) -> String {
    let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#);
    for message in messages {
        xml.push_str("<Message>");
        xml.push_str(&escape(message.as_str()));
        xml.push_str("</Message>");
    }
    xml.push_str("</Response>");
    xml
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
    fn no_replies_is_an_empty_response() {
        let xml = reply(&[]);
        assert!(xml.ends_with("<Response></Response>"));
        assert!(messages(&xml).expect("parses").is_empty());
    }
}
