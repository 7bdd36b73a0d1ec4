//! The social sign-in providers' settings and the rules they follow. How each provider is spoken
//! to is [`crate::social`]'s business; this module only says which providers there are.

use super::{ConfigError, Secret};

pub const GITHUB: &str = "github";
pub const GOOGLE: &str = "google";
pub const GOOGLE_DISCOVERY_URL: &str =
    "https://accounts.google.com/.well-known/openid-configuration";
/// Google's authorization endpoint, as its discovery document publishes it: a sign-in starts
/// without fetching the document.
pub const GOOGLE_AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";

/// One provider's settings.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// The id in URLs (`/callback/<id>`) and in `account.providerId`.
    pub id: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Secret,
    /// Scopes asked for on every sign-in (a request may add more).
    pub scopes: Vec<String>,
    /// Sign a provider user into an existing user with the same e-mail address (linking the
    /// account) when the provider says the address is verified. Off: such a sign-in is refused.
    pub trust_email: bool,
}

#[derive(Clone, Debug)]
pub enum ProviderKind {
    /// GitHub's OAuth app endpoints and REST API (overridable for tests and GitHub Enterprise).
    Github {
        authorize_url: String,
        token_url: String,
        api_url: String,
    },
    /// An OpenID Connect provider, found through its discovery document; `authorize_url` when
    /// its authorization endpoint is published (Google's), so a sign-in starts without it.
    Oidc {
        discovery_url: String,
        authorize_url: Option<String>,
    },
}

impl ProviderConfig {
    /// How people know the provider: "GitHub", "Google", or its id.
    pub fn display_name(&self) -> &str {
        match self.id.as_str() {
            GITHUB => "GitHub",
            GOOGLE => "Google",
            other => other,
        }
    }

    pub fn github(client_id: &str, client_secret: &str) -> Self {
        Self {
            id: GITHUB.into(),
            kind: ProviderKind::Github {
                authorize_url: "https://github.com/login/oauth/authorize".into(),
                token_url: "https://github.com/login/oauth/access_token".into(),
                api_url: "https://api.github.com".into(),
            },
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
            scopes: vec!["read:user".into(), "user:email".into()],
            trust_email: true,
        }
    }

    pub fn google(client_id: &str, client_secret: &str) -> Self {
        let mut google = Self::oidc(GOOGLE, GOOGLE_DISCOVERY_URL, client_id, client_secret);
        google.kind = ProviderKind::Oidc {
            discovery_url: GOOGLE_DISCOVERY_URL.into(),
            authorize_url: Some(GOOGLE_AUTHORIZE_URL.into()),
        };
        google
    }

    pub fn oidc(id: &str, discovery_url: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            id: id.into(),
            kind: ProviderKind::Oidc {
                discovery_url: discovery_url.into(),
                authorize_url: None,
            },
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
            scopes: vec!["email".into(), "profile".into()],
            trust_email: true,
        }
    }
}

/// A built-in provider's client id and secret (`<NAME>_CLIENT_ID`, `<NAME>_CLIENT_SECRET`), which
/// enable it together: both, or neither (the provider is off).
pub fn client<'a>(
    name: &str,
    id: Option<&'a str>,
    secret: Option<&'a str>,
) -> Result<Option<(&'a str, &'a str)>, ConfigError> {
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        (None, None) => Ok(None),
        _ => Err(ConfigError::Invalid(format!(
            "{name}_CLIENT_ID and {name}_CLIENT_SECRET go together"
        ))),
    }
}

/// One entry of `ORGAUTH_OIDC_PROVIDERS`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OidcProviderEntry {
    id: String,
    discovery_url: String,
    client_id: String,
    client_secret: String,
    scopes: Option<Vec<String>>,
    trust_email: Option<bool>,
}

/// The generic OpenID Connect providers of `ORGAUTH_OIDC_PROVIDERS`, a JSON array of
/// `{"id","discoveryUrl","clientId","clientSecret","scopes"?,"trustEmail"?}` (unset or blank:
/// none). Their ids are checked with the others' by [`super::AuthConfig::validate`].
pub fn oidc_providers(json: Option<&str>) -> Result<Vec<ProviderConfig>, ConfigError> {
    let entries: Vec<OidcProviderEntry> = match json {
        Some(json) if !json.trim().is_empty() => {
            serde_json::from_str(json).map_err(|source| ConfigError::Json {
                message: "ORGAUTH_OIDC_PROVIDERS is not a JSON array of {id, discoveryUrl, clientId, clientSecret, scopes?, trustEmail?}",
                source,
            })?
        }
        _ => Vec::new(),
    };
    Ok(entries
        .into_iter()
        .map(|e| {
            let mut p =
                ProviderConfig::oidc(&e.id, &e.discovery_url, &e.client_id, &e.client_secret);
            if let Some(scopes) = e.scopes {
                p.scopes = scopes;
            }
            if let Some(trust) = e.trust_email {
                p.trust_email = trust;
            }
            p
        })
        .collect())
}

/// Provider ids appear in URLs and in `account.providerId`: lower-case letters, digits, `-` and
/// `_`, never `credential` (the password account's id), and each once. Only an
/// `ORGAUTH_OIDC_PROVIDERS` entry can break this, so the messages name that setting.
pub(super) fn validate(providers: &[ProviderConfig]) -> Result<(), ConfigError> {
    for (i, p) in providers.iter().enumerate() {
        let valid_id = !p.id.is_empty()
            && p.id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid_id || p.id == crate::credentials::CREDENTIAL {
            return Err(ConfigError::Invalid(format!(
                "ORGAUTH_OIDC_PROVIDERS: id {:?} must be lower-case letters, digits, - or _ (and not \"credential\")",
                p.id
            )));
        }
        if providers[..i].iter().any(|earlier| earlier.id == p.id) {
            return Err(ConfigError::Invalid(format!(
                "ORGAUTH_OIDC_PROVIDERS: provider {:?} is configured twice",
                p.id
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(providers: &[ProviderConfig]) -> Vec<&str> {
        providers.iter().map(|p| p.id.as_str()).collect()
    }

    #[test]
    fn a_client_id_and_secret_go_together() {
        assert!(client("GITHUB", None, None).unwrap().is_none());
        assert_eq!(
            client("GITHUB", Some("id"), Some("secret")).unwrap(),
            Some(("id", "secret"))
        );
        for (id, secret) in [(Some("id"), None), (None, Some("secret"))] {
            assert_eq!(
                client("GOOGLE", id, secret).unwrap_err().to_string(),
                "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET go together"
            );
        }
    }

    #[test]
    fn oidc_providers_read_their_json() {
        assert!(oidc_providers(None).unwrap().is_empty());
        assert!(oidc_providers(Some("  ")).unwrap().is_empty());
        let read = oidc_providers(Some(
            r#"[{"id":"acme","discoveryUrl":"https://id.acme.test/.well-known/openid-configuration","clientId":"c","clientSecret":"s"},
                {"id":"corp","discoveryUrl":"https://corp.test/d","clientId":"c2","clientSecret":"s2","scopes":["openid"],"trustEmail":false}]"#,
        ))
        .unwrap();
        assert_eq!(ids(&read), ["acme", "corp"]);
        assert_eq!(read[0].scopes, ["email", "profile"], "the default scopes");
        assert!(read[0].trust_email);
        assert_eq!(read[1].scopes, ["openid"]);
        assert!(!read[1].trust_email);
        assert_eq!(read[1].client_secret.expose(), "s2");
    }

    #[test]
    fn malformed_oidc_json_names_the_setting_and_the_shape() {
        for json in [
            "{not json",
            r#"{"id":"acme"}"#,
            r#"[{"id":"acme","discoveryUrl":"d","clientId":"c","clientSecret":"s","extra":1}]"#,
        ] {
            let e = oidc_providers(Some(json)).unwrap_err();
            assert!(
                e.to_string().starts_with(
                    "ORGAUTH_OIDC_PROVIDERS is not a JSON array of {id, discoveryUrl, clientId"
                ),
                "{e}"
            );
            assert!(
                std::error::Error::source(&e).is_some(),
                "the parser's reason"
            );
        }
    }

    #[test]
    fn provider_ids_are_url_safe_and_not_credential() {
        let with_id = |id: &str| vec![ProviderConfig::oidc(id, "d", "c", "s")];
        for good in ["acme", "corp-2", "a_b"] {
            assert!(validate(&with_id(good)).is_ok(), "{good}");
        }
        for bad in ["", "Acme", "a b", "a/b", "credential"] {
            assert_eq!(
                validate(&with_id(bad)).unwrap_err().to_string(),
                format!("ORGAUTH_OIDC_PROVIDERS: id {bad:?} must be lower-case letters, digits, - or _ (and not \"credential\")")
            );
        }
    }

    #[test]
    fn a_provider_is_configured_once() {
        let providers = [
            ProviderConfig::github("c", "s"),
            ProviderConfig::google("c", "s"),
            ProviderConfig::oidc("github", "d", "c", "s"),
        ];
        assert!(validate(&providers[..2]).is_ok());
        assert_eq!(
            validate(&providers).unwrap_err().to_string(),
            "ORGAUTH_OIDC_PROVIDERS: provider \"github\" is configured twice"
        );
    }
}
