//! `crht-gateway simulate`: text the referral number from a terminal, against a running
//! gateway, seeing the replies as a phone would. Signs requests itself when an auth token is
//! configured, exactly as the provider does.

use std::io::Write;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use url::Url;

use crate::config::Config;
use crate::domain::phone::PhoneNumber;
use crate::twilio::{signature, twiml};

pub struct Simulator {
    http: reqwest::Client,
    url: String,
    from: PhoneNumber,
    to: PhoneNumber,
    auth_token: Option<String>,
    sent: u64,
    run: String,
}

impl Simulator {
    pub fn new(config: &Config, gateway: Option<Url>, from: PhoneNumber) -> anyhow::Result<Self> {
        crate::install_tls_provider();
        let base = gateway.unwrap_or_else(|| config.public_url.clone());
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
            url: format!(
                "{}/webhooks/twilio/sms",
                base.as_str().trim_end_matches('/')
            ),
            from,
            to: config.referral_number.clone(),
            auth_token: config
                .twilio
                .auth_token
                .as_ref()
                .map(|t| t.expose().to_owned()),
            sent: 0,
            run: ulid::Ulid::generate().to_string(),
        })
    }

    /// Sends one text and returns the replies.
    pub async fn text(&mut self, body: &str) -> anyhow::Result<Vec<String>> {
        self.sent += 1;
        let params = vec![
            (
                "MessageSid".to_owned(),
                format!("SMsim{}{:06}", self.run, self.sent),
            ),
            ("AccountSid".to_owned(), "ACsimulator".to_owned()),
            ("From".to_owned(), self.from.e164().to_owned()),
            ("To".to_owned(), self.to.e164().to_owned()),
            ("Body".to_owned(), body.to_owned()),
            ("NumMedia".to_owned(), "0".to_owned()),
        ];
        let mut request = self.http.post(&self.url).form(&params);
        if let Some(token) = &self.auth_token {
            request = request.header(
                "X-Twilio-Signature",
                signature::compute(token, &self.url, &params),
            );
        }
        let response = request.send().await.with_context(|| {
            format!(
                "cannot reach the gateway at {} — is `crht-gateway serve` running?",
                self.url
            )
        })?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status.is_success(), "the gateway answered {status}: {text}");
        Ok(twiml::messages(&text)?)
    }

    /// The interactive loop: one line typed, one text sent.
    pub async fn run_interactive(&mut self) -> anyhow::Result<()> {
        println!(
            "Texting {} as {} (type a message and press Enter; Ctrl-D to finish).",
            self.to.e164(),
            self.from.e164()
        );
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        loop {
            print!("you> ");
            std::io::stdout().flush()?;
            let Some(line) = lines.next_line().await? else {
                break;
            };
            for reply in self.text(&line).await? {
                println!("\n{}\n", indent(&reply));
            }
        }
        println!();
        Ok(())
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
