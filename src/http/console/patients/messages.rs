//! Sending a patient a message in staff's own words, by the patient's channels for its
//! purpose (`Services::queue_message`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{patient_href, purpose_text};
use crate::app::Error;
use crate::app::messages::MessageIn;
use crate::domain::id::PatientId;
use crate::domain::patient::Purpose;
use crate::http::AppState;
use crate::http::console::csrf::CsrfForm;
use crate::http::console::pages::{FieldError, Section};
use crate::http::console::{SignedIn, done};
use crate::store::Patient;

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct MessageForm {
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    text: String,
}

fn form_page(
    signed_in: &SignedIn,
    status: StatusCode,
    patient: &Patient,
    form: &MessageForm,
    errors: &[FieldError],
) -> Response {
    let preferences = patient.contact_preferences.complete();
    let purposes: Vec<serde_json::Value> = Purpose::ALL
        .iter()
        .map(|p| {
            let channels: Vec<&str> = preferences
                .channels(*p)
                .into_iter()
                .map(super::channel_text)
                .collect();
            serde_json::json!({
                "value": p.as_str(),
                "text": purpose_text(*p),
                "channels": channels.join(", then "),
            })
        })
        .collect();
    signed_in.page(
        status,
        Section::Patients,
        "console/patients/message.html",
        serde_json::json!({
            "patient": {
                "id": patient.id,
                "name": patient.name,
                "sms_opted_out": patient.sms_opted_out,
            },
            "purposes": purposes,
            "form": form,
            "errors": errors,
        }),
    )
}

/// `GET /console/patients/{id}/messages/new`.
pub async fn new_page(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let id = PatientId::from(id);
    match app.services.patient(&signed_in.user.actor(), &id).await {
        Ok(record) => {
            let form = MessageForm {
                purpose: "update".into(),
                text: String::new(),
            };
            form_page(&signed_in, StatusCode::OK, &record.patient, &form, &[])
        }
        Err(error) => signed_in.failure(Section::Patients, error),
    }
}

/// `POST /console/patients/{id}/messages/new`.
pub async fn send(
    State(app): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<MessageForm>,
) -> Response {
    let id = PatientId::from(id);
    let actor = signed_in.user.actor();
    let error = if form.text.trim().is_empty() {
        // Staff's own words are what this form sends; the service would pick a template.
        FieldError {
            field: "text",
            text: "Enter the message".into(),
        }
    } else {
        let input = MessageIn {
            purpose: form.purpose.clone(),
            text: Some(form.text.replace("\r\n", "\n")),
            template: None,
            vars: None,
        };
        match app.services.queue_message(&actor, &id, input).await {
            Ok((message, _)) => {
                let said = match message.channel {
                    Some(channel) => {
                        format!("Message queued by {}", super::channel_text(channel))
                    }
                    None => "Message recorded: no channel could be used".to_owned(),
                };
                return done(&signed_in, &format!("{}#messages", patient_href(&id)), said).await;
            }
            Err(Error::Invalid(detail)) => {
                let field = if detail.starts_with("purpose") {
                    "purpose"
                } else {
                    "text"
                };
                FieldError {
                    field,
                    text: detail
                        .strip_prefix("text: ")
                        .map_or_else(|| detail.clone(), |d| format!("Message: {d}")),
                }
            }
            Err(error) => return signed_in.failure(Section::Patients, error),
        }
    };
    match app.services.patient(&actor, &id).await {
        Ok(record) => form_page(
            &signed_in,
            StatusCode::UNPROCESSABLE_ENTITY,
            &record.patient,
            &form,
            &[error],
        ),
        Err(error) => signed_in.failure(Section::Patients, error),
    }
}
