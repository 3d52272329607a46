//! The console over plain HTTP, as a browser without JavaScript uses it: a client that keeps
//! the session cookie, reads a page's CSRF token and posts its forms. Tests in a real browser
//! are in `console_browser.rs`.

use crht_gateway::config_check::load_teams;
use crht_gateway::domain::role::Role;
use crht_gateway::staff::{Accounts, NewUser, Password, operator};

use crate::helpers::TestApp;

pub const PASSWORD: &str = "correct horse battery staple";

pub fn accounts(app: &TestApp) -> Accounts {
    Accounts::new(app.app.store().clone(), app.app.state.clock.clone())
}

/// Makes an account with a password, through the application layer (what `user create` runs).
pub async fn make_user(app: &TestApp, email: &str, role: Role) {
    let teams = load_teams(&app.app.state.config).unwrap();
    accounts(app)
        .create_user(
            &operator(),
            NewUser {
                email: email.into(),
                name: "Ann Example".into(),
                role,
                teams: vec![],
            },
            Some(Password::new(PASSWORD).unwrap()),
            &teams,
        )
        .await
        .unwrap();
}

/// A browser without redirects: it keeps the session cookie by hand.
pub struct Browser<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    pub cookie: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub body: String,
}

impl Page {
    pub fn csrf_token(&self) -> String {
        let marker = r#"name="csrf_token" value=""#;
        let start = self.body.find(marker).expect("a csrf_token field") + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = match &self.cookie {
            Some(cookie) => request.header("Cookie", cookie),
            None => request,
        };
        let response = request.send().await.unwrap();
        let set_cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("crht_session="))
            .map(str::to_owned);
        if let Some(set) = &set_cookie {
            let pair = set.split(';').next().unwrap().to_owned();
            self.cookie = (pair != "crht_session=").then_some(pair);
        }
        Page {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            set_cookie,
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(self.app.url(path));
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(self.app.url(path)).form(form);
        self.send(request).await
    }

    /// Fills in the sign-in form.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let token = self.get("/login").await.csrf_token();
        self.post(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }
}

impl Browser<'_> {
    /// A client signed in as a new account with `role` (and the password `PASSWORD`).
    pub async fn signed_in<'a>(app: &'a TestApp, email: &str, role: Role) -> Browser<'a> {
        make_user(app, email, role).await;
        let mut browser = Browser::new(app);
        let page = browser.sign_in(email, PASSWORD).await;
        assert_eq!(page.status, 303, "{email} signs in");
        browser
    }

    /// Posts a form from the page at `from`, with that page's CSRF token added.
    pub async fn post_from(&mut self, from: &str, to: &str, form: &[(&str, &str)]) -> Page {
        let token = self.get(from).await.csrf_token();
        let mut fields = vec![("csrf_token", token.as_str())];
        fields.extend_from_slice(form);
        self.post(to, &fields).await
    }
}
