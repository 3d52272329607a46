//! The words of every message the team sends a patient, loaded from
//! `message-templates/<language>/<sms|calls|letters>/<name>[.easy_read].j2` so the clinical
//! team can review and change them without reading code.
//!
//! Each message name exists for every channel, so a message can always fall back to the next
//! channel in the patient's contact preferences. Rendering is strict: a missing variable is an
//! error, never a blank in a text to a patient.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use include_dir::{Dir, include_dir};
use minijinja::{AutoEscape, Environment, UndefinedBehavior, syntax::SyntaxConfig};

use crate::domain::channel::Channel;
use crate::language::language_code;

/// The templates shipped with the gateway, embedded so a deployment cannot lose them.
static BUNDLED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/message-templates");

const ENGLISH: &str = "en";
const EASY_READ_SUFFIX: &str = ".easy_read";
const CHANNELS: [Channel; 3] = [Channel::Sms, Channel::PhoneCall, Channel::Letter];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("there is no message template called `{name}`")]
    UnknownTemplate { name: String },
    #[error("message template `{name}` has no {} version", .channel.as_str())]
    Missing { name: String, channel: Channel },
    #[error("message template `{name}` ({}) could not be rendered: {source}", .channel.as_str())]
    Render {
        name: String,
        channel: Channel,
        source: minijinja::Error,
    },
    #[error("message template `{name}` ({}) rendered to nothing", .channel.as_str())]
    Blank { name: String, channel: Channel },
    #[error("message template file `{path}` is not a valid template: {source}")]
    Load {
        path: String,
        source: minijinja::Error,
    },
    #[error("message template file `{path}` {reason}")]
    Misplaced { path: String, reason: &'static str },
}

/// One message rendered for one patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// The language actually used, e.g. "en".
    pub language: String,
    /// The patient's language has no template for this message: staff are shown that an
    /// interpreter may be needed.
    pub fell_back_to_english: bool,
    /// The easy-read variant was used (asked for, and one exists).
    pub easy_read: bool,
}

/// Where one template sits in `message-templates/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TemplateId {
    language: String,
    channel: Channel,
    name: String,
    easy_read: bool,
}

impl TemplateId {
    /// The template's name inside the environment, which also appears in render errors.
    fn key(&self) -> String {
        format!(
            "{}/{}/{}{}",
            self.language,
            channel_dir(self.channel),
            self.name,
            if self.easy_read { EASY_READ_SUFFIX } else { "" }
        )
    }
}

/// The loaded, parsed message templates of every language.
pub struct Templates {
    env: Environment<'static>,
    index: BTreeSet<TemplateId>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("templates", &self.index.len())
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// The templates shipped in message-templates/, embedded in the binary. Parses them all:
    /// build once at start and share.
    pub fn bundled() -> Self {
        let mut files = Vec::new();
        collect_files(&BUNDLED, &mut files);
        #[allow(clippy::expect_used)]
        Self::from_files(files).expect("bundled message templates are checked by tests")
    }

    /// Loads `(path relative to message-templates/, contents)` pairs; files not ending in
    /// `.j2` (such as the conversation's wording) are left alone.
    fn from_files(files: Vec<(String, Option<&str>)>) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Plain text for texts, scripts and letters: nothing is HTML-escaped.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // Debug info would carry patients' names and messages into error output and logs.
        env.set_debug(false);
        // Block tags on their own line leave no blank line behind, so the files stay readable.
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|source| TemplateError::Load {
                path: String::new(),
                source,
            })?;
        env.set_syntax(syntax);

        let mut index = BTreeSet::new();
        for (path, contents) in files {
            let Some(stem) = path.strip_suffix(".j2") else {
                continue;
            };
            let id = parse_path(stem).ok_or_else(|| TemplateError::Misplaced {
                path: path.clone(),
                reason: "is not at <language>/<sms|calls|letters>/<name>[.easy_read].j2",
            })?;
            let source = contents.ok_or_else(|| TemplateError::Misplaced {
                path: path.clone(),
                reason: "is not UTF-8 text",
            })?;
            env.add_template_owned(id.key(), source.replace("\r\n", "\n"))
                .map_err(|source| TemplateError::Load {
                    path: path.clone(),
                    source,
                })?;
            index.insert(id);
        }
        if let Some(orphan) = index.iter().find(|id| {
            id.easy_read
                && !index.contains(&TemplateId {
                    easy_read: false,
                    ..(*id).clone()
                })
        }) {
            return Err(TemplateError::Misplaced {
                path: format!("{}.j2", orphan.key()),
                reason: "is an easy-read variant without its plain template",
            });
        }
        Ok(Self { env, index })
    }

    /// Renders `name` for `channel`. `language` is the patient's passport language as staff
    /// typed it ("Polish", "pl", "English", None); a language with no template for this
    /// message falls back to English with `fell_back_to_english = true` (staff are then shown
    /// that an interpreter may be needed). `easy_read` picks the `.easy_read` variant when one
    /// exists. Strict: a missing variable is an error, never a blank.
    pub fn render(
        &self,
        name: &str,
        channel: Channel,
        language: Option<&str>,
        easy_read: bool,
        vars: &serde_json::Value,
    ) -> Result<Rendered, TemplateError> {
        if !self.is_known(name) {
            return Err(TemplateError::UnknownTemplate {
                name: name.to_owned(),
            });
        }
        let (language, fell_back_to_english) =
            match language.map(str::trim).filter(|l| !l.is_empty()) {
                None => (ENGLISH, false),
                Some(asked) => match language_code(asked) {
                    Some(ENGLISH) => (ENGLISH, false),
                    Some(code) if self.exists(code, channel, name, false) => (code, false),
                    _ => (ENGLISH, true),
                },
            };
        if !self.exists(language, channel, name, false) {
            return Err(TemplateError::Missing {
                name: name.to_owned(),
                channel,
            });
        }
        let easy_read = easy_read && self.exists(language, channel, name, true);
        let id = TemplateId {
            language: language.to_owned(),
            channel,
            name: name.to_owned(),
            easy_read,
        };
        let render_error = |source| TemplateError::Render {
            name: name.to_owned(),
            channel,
            source,
        };
        let raw = self
            .env
            .get_template(&id.key())
            .and_then(|template| template.render(minijinja::value::Serde(vars)))
            .map_err(render_error)?;
        let text = tidy(&raw);
        if text.is_empty() {
            return Err(TemplateError::Blank {
                name: name.to_owned(),
                channel,
            });
        }
        Ok(Rendered {
            text,
            language: id.language,
            fell_back_to_english,
            easy_read,
        })
    }

    /// True when the message exists in English for all three channels, so any channel in a
    /// patient's contact preferences can carry it.
    pub fn has(&self, name: &str) -> bool {
        CHANNELS
            .iter()
            .all(|&channel| self.exists(ENGLISH, channel, name, false))
    }

    /// Message names (English, any channel), sorted.
    pub fn names(&self) -> Vec<String> {
        let names: BTreeSet<&str> = self
            .index
            .iter()
            .filter(|id| id.language == ENGLISH)
            .map(|id| id.name.as_str())
            .collect();
        names.into_iter().map(str::to_owned).collect()
    }

    /// Variables any version of the message (every language, plain and easy read) refers to,
    /// so a test can prove texts carry no clinical detail.
    pub fn variables(
        &self,
        name: &str,
        channel: Channel,
    ) -> Result<BTreeSet<String>, TemplateError> {
        let versions: Vec<&TemplateId> = self
            .index
            .iter()
            .filter(|id| id.channel == channel && id.name == name)
            .collect();
        if versions.is_empty() {
            return Err(if self.is_known(name) {
                TemplateError::Missing {
                    name: name.to_owned(),
                    channel,
                }
            } else {
                TemplateError::UnknownTemplate {
                    name: name.to_owned(),
                }
            });
        }
        let mut variables = BTreeSet::new();
        for id in versions {
            let template =
                self.env
                    .get_template(&id.key())
                    .map_err(|source| TemplateError::Render {
                        name: name.to_owned(),
                        channel,
                        source,
                    })?;
            variables.extend(template.undeclared_variables(false));
        }
        Ok(variables)
    }

    fn exists(&self, language: &str, channel: Channel, name: &str, easy_read: bool) -> bool {
        self.index.contains(&TemplateId {
            language: language.to_owned(),
            channel,
            name: name.to_owned(),
            easy_read,
        })
    }

    /// A message is known by its English templates; other languages only translate them.
    fn is_known(&self, name: &str) -> bool {
        self.index
            .iter()
            .any(|id| id.language == ENGLISH && id.name == name)
    }
}

fn channel_dir(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "sms",
        Channel::PhoneCall => "calls",
        Channel::Letter => "letters",
    }
}

fn collect_files<'a>(dir: &'a Dir<'a>, out: &mut Vec<(String, Option<&'a str>)>) {
    for file in dir.files() {
        out.push((slash_path(file.path()), file.contents_utf8()));
    }
    for sub in dir.dirs() {
        collect_files(sub, out);
    }
}

/// The same path on every platform, so layout checks and error messages agree.
fn slash_path(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `en/sms/reminder.easy_read` → its id; None for anything else, so a misspelt folder or
/// name fails loudly at load instead of leaving a message missing.
fn parse_path(stem: &str) -> Option<TemplateId> {
    let mut parts = stem.split('/');
    let (language, dir, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let channel = CHANNELS.into_iter().find(|&c| channel_dir(c) == dir)?;
    let (name, easy_read) = match file.strip_suffix(EASY_READ_SUFFIX) {
        Some(name) => (name, true),
        None => (file, false),
    };
    let lower = |s: &str, extra: char| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra)
    };
    (lower(language, '-') && lower(name, '_')).then(|| TemplateId {
        language: language.to_owned(),
        channel,
        name: name.to_owned(),
        easy_read,
    })
}

/// Trims the text and each line's end, and leaves at most one blank line between paragraphs:
/// stray whitespace costs SMS units and looks careless in a letter.
fn tidy(raw: &str) -> String {
    let mut text = String::with_capacity(raw.len());
    let mut blank = false;
    for line in raw.trim().lines().map(str::trim_end) {
        if line.is_empty() {
            blank = true;
            continue;
        }
        if !text.is_empty() {
            text.push_str(if blank { "\n\n" } else { "\n" });
        }
        text.push_str(line);
        blank = false;
    }
    text
}

#[cfg(test)]
mod tests;
