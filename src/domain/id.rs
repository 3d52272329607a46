//! Every entity's id as a type of its own, so a patient's id cannot be passed where a
//! referral's is wanted. Each is the text the store made it with (a ULID) and is sent,
//! stored and bound as that text; `Deref<Target = str>` lets it go wherever a `&str` goes.

/// Declares an id newtype: serde and sqlx see the bare text, the OpenAPI schema a string.
macro_rules! id_type {
    ($( $(#[$meta:meta])* $name:ident ),+ $(,)?) => {
        $(
            $(#[$meta])*
            #[derive(
                Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
                serde::Serialize, serde::Deserialize, sqlx::Type, utoipa::ToSchema,
            )]
            #[serde(transparent)]
            #[sqlx(transparent)]
            #[schema(value_type = String)]
            pub struct $name(String);

            impl $name {
                pub fn as_str(&self) -> &str {
                    &self.0
                }

                pub fn into_string(self) -> String {
                    self.0
                }
            }

            impl std::ops::Deref for $name {
                type Target = str;
                fn deref(&self) -> &str {
                    &self.0
                }
            }

            impl AsRef<str> for $name {
                fn as_ref(&self) -> &str {
                    &self.0
                }
            }

            impl std::borrow::Borrow<str> for $name {
                fn borrow(&self) -> &str {
                    &self.0
                }
            }

            impl From<String> for $name {
                fn from(id: String) -> Self {
                    $name(id)
                }
            }

            impl From<&str> for $name {
                fn from(id: &str) -> Self {
                    $name(id.to_owned())
                }
            }

            impl From<$name> for String {
                fn from(id: $name) -> String {
                    id.0
                }
            }

            impl PartialEq<str> for $name {
                fn eq(&self, other: &str) -> bool {
                    self.0 == other
                }
            }

            impl PartialEq<&str> for $name {
                fn eq(&self, other: &&str) -> bool {
                    self.0 == *other
                }
            }

            impl std::fmt::Display for $name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(&self.0)
                }
            }
        )+
    };
}

id_type! {
    /// A referral made by text.
    ReferralId,
    /// The conversation that makes (or made) a referral.
    ConversationId,
    PatientId,
    AppointmentId,
    ReminderId,
    /// A message to a patient or an alert to on-call staff.
    MessageId,
    /// A call to make or a letter to post (not apalis' `TaskId`, a job's id).
    StaffTaskId,
    InboxItemId,
    /// A text received or sent in a conversation.
    TextId,
    /// A staff API token.
    TokenId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_bare_text_on_the_wire_and_goes_where_a_str_goes() {
        let id = PatientId::from("01JDQ3ZP7W0000000000000000");
        assert_eq!(
            serde_json::to_string(&id).expect("serializes"),
            "\"01JDQ3ZP7W0000000000000000\""
        );
        let back: PatientId =
            serde_json::from_str("\"01JDQ3ZP7W0000000000000000\"").expect("deserializes");
        assert_eq!(back, id);
        fn takes_str(s: &str) -> usize {
            s.len()
        }
        assert_eq!(takes_str(&id), 26);
        assert_eq!(id.to_string(), id.as_str());
    }
}
