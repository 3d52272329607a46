//! The teams: which postcode areas and towns each one covers, and whom to alert there.
//!
//! Routing never fails: a referral from an unknown place goes to the default team, which
//! triages it, because a referral that reaches no one is the one outcome the service must
//! not have. All checks happen when the file is loaded, so a bad file stops the gateway at
//! start instead of misrouting an urgent referral later.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::Deserialize;

use crate::domain::phone::{PhoneError, PhoneNumber, mask_raw};
use crate::domain::postcode::Postcode;

/// One crisis team and the places it covers.
#[derive(Debug, Clone)]
pub struct Team {
    /// Stable identifier, stored with every referral routed here.
    pub id: String,
    pub name: String,
    /// Postcode areas ("LS") and districts ("LS29"), upper case, as routing compares them.
    pub postcode_areas: Vec<String>,
    /// Town names as written in the file, for showing to staff.
    pub towns: Vec<String>,
    /// Where urgent alerts are texted; never empty, all able to receive texts.
    pub on_call: Vec<PhoneNumber>,
    /// Who to try next when on-call does not acknowledge an urgent alert.
    pub escalation: Vec<PhoneNumber>,
}

/// All teams, loaded and checked, with the lookups routing needs.
#[derive(Debug, Clone)]
pub struct Teams {
    teams: Vec<Team>,
    default: usize,
    /// Areas and districts both: areas are letters only and districts contain a digit, so
    /// the keys never collide.
    by_postcode: HashMap<String, usize>,
    /// Town names squashed to lower-case letters and digits ("hebdenbridge").
    by_town: HashMap<String, usize>,
    /// Town names as word lists, to find a town mentioned inside a longer answer.
    town_phrases: Vec<(Vec<String>, usize)>,
    placeholder_numbers: bool,
}

/// What is wrong with a teams file. Messages name the team and field, and mask every phone
/// number (the file is full of staff numbers and the message goes to the log).
#[derive(Debug, thiserror::Error)]
pub enum TeamsError {
    #[error("teams file{}: {message}", at_line(*.line))]
    Syntax {
        line: Option<usize>,
        message: String,
    },
    #[error("teams file lists no [[team]]")]
    NoTeams,
    #[error("team #{position}: id {id:?} must be non-empty and use only a-z, 0-9, '-' and '_'")]
    InvalidId { position: usize, id: String },
    #[error("team {id:?} is listed more than once")]
    DuplicateId { id: String },
    #[error("team {team:?}: name must not be empty")]
    EmptyName { team: String },
    #[error("default_team {id:?} is not the id of any [[team]]")]
    UnknownDefaultTeam { id: String },
    #[error("team {team:?}: on_call must list at least one number, urgent alerts go there")]
    NoOnCall { team: String },
    #[error("team {team:?}: {field} number {masked} is not usable: {reason}")]
    InvalidNumber {
        team: String,
        field: &'static str,
        masked: String,
        reason: PhoneError,
    },
    #[error(
        "team {team:?}: {field} number {masked} cannot receive texts, and urgent alerts are texts"
    )]
    OnCallNotMobile {
        team: String,
        field: &'static str,
        masked: String,
    },
    #[error(
        "team {team:?}: postcode_areas entry {entry:?} is not an area like \"LS\" or a district like \"LS1\""
    )]
    InvalidPostcodeArea { team: String, entry: String },
    #[error("postcode area {entry:?} is listed by both team {first:?} and team {second:?}")]
    PostcodeAreaInTwoTeams {
        entry: String,
        first: String,
        second: String,
    },
    #[error("team {team:?}: a town must contain a letter or digit")]
    EmptyTown { team: String },
    #[error("town {town:?} is listed by both team {first:?} and team {second:?}")]
    TownInTwoTeams {
        town: String,
        first: String,
        second: String,
    },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|n| format!(", line {n}")).unwrap_or_default()
}

/// The file as written; numbers stay text until each can be checked with its team's name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamsFile {
    /// Set in the shipped example so the gateway can warn that it is not the real list.
    #[serde(default)]
    placeholder_numbers: bool,
    default_team: String,
    #[serde(default)]
    team: Vec<TeamEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamEntry {
    id: String,
    name: String,
    #[serde(default)]
    postcode_areas: Vec<String>,
    #[serde(default)]
    towns: Vec<String>,
    #[serde(default)]
    on_call: Vec<String>,
    #[serde(default)]
    escalation: Vec<String>,
}

impl Teams {
    pub fn from_toml(text: &str) -> Result<Self, TeamsError> {
        let file: TeamsFile = toml::from_str(text).map_err(|error| TeamsError::Syntax {
            line: error
                .span()
                .and_then(|span| text.get(..span.start))
                .map(|before| before.matches('\n').count() + 1),
            // Not the error's Display: that quotes the offending line, which may hold a number.
            message: mask_numbers_in(error.message()),
        })?;
        if file.team.is_empty() {
            return Err(TeamsError::NoTeams);
        }

        let mut teams: Vec<Team> = Vec::with_capacity(file.team.len());
        let mut by_postcode: HashMap<String, usize> = HashMap::new();
        let mut by_town: HashMap<String, usize> = HashMap::new();
        let mut town_phrases = Vec::new();

        for (index, entry) in file.team.into_iter().enumerate() {
            let id = entry.id.trim().to_owned();
            if !is_valid_id(&id) {
                return Err(TeamsError::InvalidId {
                    position: index + 1,
                    id,
                });
            }
            if teams.iter().any(|t| t.id == id) {
                return Err(TeamsError::DuplicateId { id });
            }
            let name = entry.name.trim().to_owned();
            if name.is_empty() {
                return Err(TeamsError::EmptyName { team: id });
            }

            let on_call = parse_numbers(&id, "on_call", &entry.on_call)?;
            if on_call.is_empty() {
                return Err(TeamsError::NoOnCall { team: id });
            }
            let escalation = parse_numbers(&id, "escalation", &entry.escalation)?;
            for (field, numbers) in [("on_call", &on_call), ("escalation", &escalation)] {
                if let Some(landline) = numbers.iter().find(|n| !n.is_mobile()) {
                    return Err(TeamsError::OnCallNotMobile {
                        field,
                        masked: landline.masked(),
                        team: id,
                    });
                }
            }

            let mut postcode_areas = Vec::with_capacity(entry.postcode_areas.len());
            for raw in &entry.postcode_areas {
                let Some(area) = normalise_area(raw) else {
                    return Err(TeamsError::InvalidPostcodeArea {
                        team: id,
                        entry: raw.clone(),
                    });
                };
                match by_postcode.entry(area.clone()) {
                    Entry::Occupied(taken) if *taken.get() != index => {
                        return Err(TeamsError::PostcodeAreaInTwoTeams {
                            entry: area,
                            first: teams[*taken.get()].id.clone(),
                            second: id,
                        });
                    }
                    Entry::Occupied(_) => {}
                    Entry::Vacant(free) => {
                        free.insert(index);
                        postcode_areas.push(area);
                    }
                }
            }

            let mut towns = Vec::with_capacity(entry.towns.len());
            for raw in entry.towns {
                let words = town_words(&raw);
                if words.is_empty() {
                    return Err(TeamsError::EmptyTown { team: id });
                }
                match by_town.entry(words.concat()) {
                    Entry::Occupied(taken) if *taken.get() != index => {
                        return Err(TeamsError::TownInTwoTeams {
                            town: raw.trim().to_owned(),
                            first: teams[*taken.get()].id.clone(),
                            second: id,
                        });
                    }
                    Entry::Occupied(_) => {}
                    Entry::Vacant(free) => {
                        free.insert(index);
                        town_phrases.push((words, index));
                        towns.push(raw.trim().to_owned());
                    }
                }
            }

            teams.push(Team {
                id,
                name,
                postcode_areas,
                towns,
                on_call,
                escalation,
            });
        }

        let default = teams
            .iter()
            .position(|t| t.id == file.default_team.trim())
            .ok_or(TeamsError::UnknownDefaultTeam {
                id: file.default_team,
            })?;

        Ok(Self {
            teams,
            default,
            by_postcode,
            by_town,
            town_phrases,
            placeholder_numbers: file.placeholder_numbers,
        })
    }

    /// The example shipped in `config/teams.toml`, used when no teams file is configured.
    ///
    /// # Panics
    /// Never in a build that passed its tests: a unit test loads the same file.
    pub fn bundled() -> Self {
        Self::from_toml(include_str!("../../config/teams.toml"))
            .unwrap_or_else(|error| panic!("the bundled config/teams.toml is invalid: {error}"))
    }

    /// The most specific entry wins: the full outward code ("EC1A"), then the district without
    /// its sub-district letter ("EC1"), then the area ("EC"); otherwise the default team.
    pub fn route_postcode(&self, postcode: &Postcode) -> &Team {
        let outward = postcode.outward();
        let district = outward
            .strip_suffix(|c: char| c.is_ascii_alphabetic())
            .filter(|d| d.ends_with(|c: char| c.is_ascii_digit()));
        [Some(outward), district, Some(postcode.area())]
            .into_iter()
            .flatten()
            .find_map(|key| self.by_postcode.get(key))
            .map_or_else(|| self.default_team(), |&i| &self.teams[i])
    }

    /// Matches a town whatever its case, spacing or punctuation ("hebden-bridge"), and also a
    /// town named inside a longer answer ("near Leeds city centre") when only one team's towns
    /// are named; anything else goes to the default team.
    pub fn route_town(&self, town: &str) -> &Team {
        let words = town_words(town);
        if words.is_empty() {
            return self.default_team();
        }
        if let Some(&i) = self.by_town.get(&words.concat()) {
            return &self.teams[i];
        }
        let mut matched: Option<usize> = None;
        for (phrase, team) in &self.town_phrases {
            if words.windows(phrase.len()).any(|w| w == phrase.as_slice()) {
                match matched {
                    Some(other) if other != *team => return self.default_team(),
                    _ => matched = Some(*team),
                }
            }
        }
        matched.map_or_else(|| self.default_team(), |i| &self.teams[i])
    }

    pub fn get(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }

    /// The team that triages referrals from anywhere no other team covers.
    pub fn default_team(&self) -> &Team {
        &self.teams[self.default]
    }

    /// Every team, in the file's order.
    pub fn all(&self) -> &[Team] {
        &self.teams
    }

    /// True while the file still says its numbers are the shipped placeholders
    /// (`placeholder_numbers = true`): startup should warn, or refuse to send real texts.
    pub fn has_placeholder_numbers(&self) -> bool {
        self.placeholder_numbers
    }
}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn parse_numbers(
    team: &str,
    field: &'static str,
    raw: &[String],
) -> Result<Vec<PhoneNumber>, TeamsError> {
    raw.iter()
        .map(|number| {
            PhoneNumber::parse(number).map_err(|reason| TeamsError::InvalidNumber {
                team: team.to_owned(),
                field,
                masked: mask_raw(number),
                reason,
            })
        })
        .collect()
}

/// "LS" or "ls" (an area) and "LS29" or "ls 29" (a district) in routing form; `None` when the
/// entry could be neither. Checked by building a postcode around it.
fn normalise_area(raw: &str) -> Option<String> {
    let entry: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    if !entry.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let probe = if entry.bytes().all(|b| b.is_ascii_alphabetic()) {
        if !(1..=2).contains(&entry.len()) {
            return None;
        }
        format!("{entry}1 1AA")
    } else {
        format!("{entry} 1AA")
    };
    let postcode = Postcode::parse(&probe).ok()?;
    (postcode.outward() == entry || postcode.area() == entry).then_some(entry)
}

/// Lower-case words of letters and digits: "St. Helens" → ["st", "helens"].
fn town_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Masks anything in a parser message that could be a phone number (six or more digits,
/// with the usual separators), since serde quotes offending values.
fn mask_numbers_in(message: &str) -> String {
    let is_number_char = |c: char| c.is_ascii_digit() || " +-().".contains(c);
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit() || c == '+') {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let end = from
            .find(|c: char| !is_number_char(c))
            .unwrap_or(from.len());
        let run = from[..end].trim_end_matches([' ', '(', '-', '.']);
        if run.chars().filter(char::is_ascii_digit).count() >= 6 {
            out.push_str(&mask_raw(run));
        } else {
            out.push_str(run);
        }
        // Never empty: it starts with the digit or '+' found above, so the loop moves on.
        rest = &from[run.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = r#"
default_team = "triage"

[[team]]
id = "triage"
name = "Triage"
on_call = ["07911 200001"]

[[team]]
id = "leeds"
name = "Leeds"
postcode_areas = ["LS", "ec1"]
towns = ["Leeds", "Hebden Bridge"]
on_call = ["07911 200011", "+44 7911 200012"]
escalation = ["07911 100019"]

[[team]]
id = "bradford"
name = "Bradford"
postcode_areas = ["BD", "ls 29", "EC1A"]
towns = ["Bradford", "St. Ives", "Leeds Road"]
on_call = ["0044 7911 200021"]
"#;

    fn example() -> Result<Teams, TeamsError> {
        Teams::from_toml(EXAMPLE)
    }

    fn postcode(text: &str) -> Postcode {
        Postcode::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn the_bundled_file_loads_and_covers_west_yorkshire() {
        let teams = Teams::bundled();
        assert!(teams.all().len() >= 4);
        assert!(teams.has_placeholder_numbers());
        assert_eq!(teams.default_team().id, "triage");
        for team in teams.all() {
            assert!(!team.on_call.is_empty(), "{}", team.id);
            assert!(
                team.on_call.iter().all(PhoneNumber::is_mobile),
                "{}",
                team.id
            );
        }
        let cases = [
            ("LS1 4DY", "leeds"),
            ("LS29 8AA", "bradford"),
            ("BD1 1HY", "bradford"),
            ("BD23 1AA", "triage"),
            ("WF1 2DE", "wakefield"),
            ("WF13 1AA", "calderdale-kirklees"),
            ("HX1 1AA", "calderdale-kirklees"),
            ("HD1 1AA", "calderdale-kirklees"),
            ("OL14 5AA", "calderdale-kirklees"),
            ("OL1 1AA", "triage"),
            ("SW1A 1AA", "triage"),
        ];
        for (text, team) in cases {
            assert_eq!(teams.route_postcode(&postcode(text)).id, team, "{text}");
        }
        assert_eq!(teams.route_town("hebden bridge").id, "calderdale-kirklees");
        assert_eq!(teams.route_town("Burley in Wharfedale").id, "bradford");
    }

    #[test]
    fn the_bundled_file_says_its_numbers_are_placeholders() {
        let text = include_str!("../../config/teams.toml");
        let top: String = text.lines().take(10).collect::<Vec<_>>().join("\n");
        assert!(top.contains("PLACEHOLDER"), "{top}");
        assert!(top.contains("MUST be replaced"), "{top}");
    }

    #[test]
    fn loads_teams_with_parsed_numbers_and_normalised_areas() -> Result<(), TeamsError> {
        let teams = example()?;
        let ids: Vec<&str> = teams.all().iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["triage", "leeds", "bradford"]);
        assert!(!teams.has_placeholder_numbers());
        let leeds = teams.get("leeds").ok_or(TeamsError::NoTeams)?;
        assert_eq!(leeds.postcode_areas, ["LS", "EC1"]);
        assert_eq!(
            leeds
                .on_call
                .iter()
                .map(PhoneNumber::e164)
                .collect::<Vec<_>>(),
            ["+447911200011", "+447911200012"]
        );
        assert_eq!(leeds.escalation.len(), 1);
        let bradford = teams.get("bradford").ok_or(TeamsError::NoTeams)?;
        assert_eq!(bradford.postcode_areas, ["BD", "LS29", "EC1A"]);
        assert_eq!(bradford.on_call[0].e164(), "+447911200021");
        assert!(teams.get("wakefield").is_none());
        Ok(())
    }

    #[test]
    fn routes_postcodes_by_longest_match() -> Result<(), TeamsError> {
        let teams = example()?;
        let cases = [
            ("LS1 4DY", "leeds"),
            ("LS2 9JT", "leeds"),
            ("LS29 9DY", "bradford"),
            ("LS2 9DY", "leeds"),
            ("BD1 1HY", "bradford"),
            ("EC1A 1BB", "bradford"),
            ("EC1M 6BQ", "leeds"),
            ("EC1V 9AA", "leeds"),
            ("EC2A 1AA", "triage"),
            ("M1 1AE", "triage"),
            ("GIR 0AA", "triage"),
        ];
        for (text, team) in cases {
            assert_eq!(teams.route_postcode(&postcode(text)).id, team, "{text}");
        }
        Ok(())
    }

    #[test]
    fn routes_towns_forgivingly() -> Result<(), TeamsError> {
        let teams = example()?;
        let cases = [
            ("Leeds", "leeds"),
            ("leeds", "leeds"),
            ("  LEEDS. ", "leeds"),
            ("hebden bridge", "leeds"),
            ("Hebden-Bridge", "leeds"),
            ("HebdenBridge", "leeds"),
            ("st ives", "bradford"),
            ("St. Ives!", "bradford"),
            ("I'm in Leeds city centre", "leeds"),
            ("near bradford", "bradford"),
            ("Leeds Road", "bradford"),
            ("between Leeds and Bradford", "triage"),
            ("Wakefield", "triage"),
            ("Leedsy", "triage"),
            ("", "triage"),
            ("...", "triage"),
        ];
        for (town, team) in cases {
            assert_eq!(teams.route_town(town).id, team, "{town:?}");
        }
        Ok(())
    }

    /// Replaces `from` in the example, checking it was there (so a test cannot pass vacuously).
    fn example_with(from: &str, to: &str) -> String {
        assert!(EXAMPLE.contains(from), "{from:?} is not in the example");
        EXAMPLE.replacen(from, to, 1)
    }

    #[test]
    fn refuses_bad_files_with_clear_messages() {
        let cases: Vec<(String, &str)> = vec![
            ("not toml at all [".to_owned(), "teams file"),
            (
                example_with("default_team = \"triage\"", ""),
                "missing field `default_team`",
            ),
            (
                example_with("default_team = \"triage\"", "default_team = \"nobody\""),
                "default_team \"nobody\"",
            ),
            ("default_team = \"x\"".to_owned(), "no [[team]]"),
            (
                example_with("id = \"leeds\"", "id = \"\""),
                "team #2: id \"\"",
            ),
            (
                example_with("id = \"leeds\"", "id = \"Leeds Team\""),
                "team #2: id \"Leeds Team\"",
            ),
            (
                example_with("id = \"leeds\"", "id = \"triage\""),
                "team \"triage\" is listed more than once",
            ),
            (
                example_with("name = \"Leeds\"", "name = \" \""),
                "team \"leeds\": name",
            ),
            (
                example_with("on_call = [\"07911 200001\"]", "on_call = []"),
                "team \"triage\": on_call must list",
            ),
            (
                example_with("on_call = [\"07911 200001\"]\n", "\n"),
                "team \"triage\": on_call must list",
            ),
            (
                example_with("\"+44 7911 200012\"", "\"07911 20001\""),
                "team \"leeds\": on_call number *** ***001 is not usable",
            ),
            (
                example_with("\"+44 7911 200012\"", "\"0113 496 0000\""),
                "team \"leeds\": on_call number +44 1*** ***000 cannot receive texts",
            ),
            (
                example_with(
                    "escalation = [\"07911 100019\"]",
                    "escalation = [\"12345\"]",
                ),
                "team \"leeds\": escalation number *** *** is not usable",
            ),
            (
                example_with("\"ec1\"", "\"1LS\""),
                "team \"leeds\": postcode_areas entry \"1LS\"",
            ),
            (example_with("\"ec1\"", "\"QS\""), "entry \"QS\""),
            (example_with("\"ec1\"", "\"ABC\""), "entry \"ABC\""),
            (example_with("\"ec1\"", "\"LS1 4DY\""), "entry \"LS1 4DY\""),
            (example_with("\"ec1\"", "\"\""), "entry \"\""),
            (
                example_with("\"ec1\"", "\"bd\""),
                "postcode area \"BD\" is listed by both team \"leeds\" and team \"bradford\"",
            ),
            (
                example_with("\"ls 29\"", "\"ls\""),
                "postcode area \"LS\" is listed by both team \"leeds\" and team \"bradford\"",
            ),
            (
                example_with("\"St. Ives\"", "\"hebden-bridge\""),
                "town \"hebden-bridge\" is listed by both team \"leeds\" and team \"bradford\"",
            ),
            (
                example_with("\"St. Ives\"", "\" - \""),
                "team \"bradford\": a town must contain",
            ),
            (
                example_with("name = \"Leeds\"", "name = \"Leeds\"\noncall = []"),
                "unknown field `oncall`",
            ),
            (
                example_with("default_team", "colour = \"blue\"\ndefault_team"),
                "unknown field `colour`",
            ),
            (example_with("id = \"leeds\"", "id = 7"), "invalid type"),
        ];
        for (text, expected) in cases {
            match Teams::from_toml(&text) {
                Ok(_) => panic!("should fail with {expected:?}:\n{text}"),
                Err(error) => {
                    let message = error.to_string();
                    assert!(message.contains(expected), "{message:?} lacks {expected:?}");
                }
            }
        }
    }

    #[test]
    fn syntax_errors_give_the_line_and_never_quote_a_number() {
        let text = example_with("on_call = [\"07911 200001\"]", "on_call = \"07911 200001\"");
        let Err(error) = Teams::from_toml(&text) else {
            panic!("a string is not a list");
        };
        let message = error.to_string();
        assert!(message.contains("line 7"), "{message}");
        assert!(!message.contains("200001"), "{message}");

        let text = example_with("on_call = [\"07911 200001\"]", "on_call = [7911200001]");
        let Err(error) = Teams::from_toml(&text) else {
            panic!("a number is not a string");
        };
        let message = error.to_string();
        assert!(!message.contains("7911200001"), "{message}");
        assert!(!message.contains("200001"), "{message}");
    }

    #[test]
    fn masks_numbers_inside_messages() {
        let cases = [
            (
                "invalid type: integer `7911200001`",
                "invalid type: integer `+44 7*** ***001`",
            ),
            (
                "string \"07911 200001\", expected",
                "string \"+44 7*** ***001\", expected",
            ),
            ("a +44 7911 20000 b", "a +44 *** ***000 b"),
            ("line 12, column 3", "line 12, column 3"),
            ("a + b", "a + b"),
            ("+", "+"),
            ("", ""),
        ];
        for (message, masked) in cases {
            assert_eq!(mask_numbers_in(message), masked, "{message:?}");
        }
    }

    proptest! {
        #[test]
        fn from_toml_never_panics(text in any::<String>()) {
            let _ = Teams::from_toml(&text);
        }

        #[test]
        fn route_town_never_panics(town in any::<String>()) {
            let teams = Teams::bundled();
            let _ = teams.route_town(&town);
        }

        #[test]
        fn masked_messages_never_hold_six_digits_in_a_row(message in "[a-z0-9 +()`\".-]{0,40}") {
            let masked = mask_numbers_in(&message);
            let longest_run = masked
                .split(|c: char| !c.is_ascii_digit())
                .map(str::len)
                .max()
                .unwrap_or(0);
            prop_assert!(longest_run < 6, "{}", masked);
        }

        #[test]
        fn every_postcode_of_a_listed_area_routes_to_its_team(
            area in prop::sample::select(vec!["LS", "BD", "WF", "HX", "HD"]),
            district in 1u8..=99,
            inward in "[0-9][ABDEFGHJLNPQRSTUWXYZ]{2}",
        ) {
            let teams = Teams::bundled();
            let Ok(postcode) = Postcode::parse(&format!("{area}{district} {inward}")) else {
                return Err(TestCaseError::fail("generated postcode should parse"));
            };
            let team = teams.route_postcode(&postcode);
            let outward = postcode.outward().to_owned();
            let expected = teams
                .all()
                .iter()
                .find(|t| t.postcode_areas.contains(&outward))
                .or_else(|| teams.all().iter().find(|t| t.postcode_areas.iter().any(|a| a == area)))
                .map(|t| t.id.clone());
            prop_assert_eq!(Some(team.id.clone()), expected);
        }
    }
}
