//! Outgoing mail: SMTP through lettre, or, with no SMTP configured, a warning in the log: with
//! the message's links on a local server (so a developer can follow them), with the links cut
//! short anywhere else (a log is no place for sign-in secrets). What a mail says comes from
//! [`templates`].

pub mod templates;

use std::sync::Arc;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid SMTP_URL: {0}")]
    InvalidUrl(String),
    #[error("invalid MAIL_FROM: {0}")]
    InvalidFrom(String),
    #[error("ORGAUTH_MAIL_TEMPLATES: {0}")]
    Template(String),
}

/// A message to one recipient, in plain text and HTML.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone)]
pub enum Mailer {
    Smtp(Arc<SmtpMailer>),
    /// No SMTP: messages go to the log, links in full only when `links` (a local server).
    Log {
        links: bool,
    },
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// `smtp://host:port` (plain, for a local relay), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`.
    pub fn smtp(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::InvalidUrl(e.to_string()))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        let from = from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailError::InvalidFrom(e.to_string()))?;
        Ok(Mailer::Smtp(Arc::new(SmtpMailer { transport, from })))
    }

    /// Whether a mailed link reaches a person: by SMTP, or in the log of a local server.
    pub fn delivers_links(&self) -> bool {
        matches!(self, Mailer::Smtp(_) | Mailer::Log { links: true })
    }

    /// Sends in the background: the request that caused the mail does not wait for SMTP, and its
    /// answer (and timing) does not depend on whether a mail was sent. Failures are logged.
    pub fn send(&self, mail: Mail) {
        match self.clone() {
            Mailer::Log { links } => {
                let text = match links {
                    true => mail.text,
                    false => redact_links(&mail.text),
                };
                tracing::warn!(
                    to = %mail.to,
                    subject = %mail.subject,
                    "SMTP_URL is not set; the mail is logged instead of sent:\n{text}"
                );
            }
            Mailer::Smtp(smtp) => {
                tokio::spawn(async move {
                    let to = match mail.to.parse::<Mailbox>() {
                        Ok(to) => to,
                        Err(e) => {
                            return tracing::error!(error = %e, "cannot mail an invalid address")
                        }
                    };
                    let message = Message::builder()
                        .from(smtp.from.clone())
                        .to(to)
                        .subject(mail.subject)
                        .multipart(MultiPart::alternative_plain_html(mail.text, mail.html));
                    match message {
                        Ok(message) => {
                            if let Err(e) = smtp.transport.send(message).await {
                                tracing::error!(error = %e, "sending mail failed");
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "building mail failed"),
                    }
                });
            }
        }
    }
}

/// `text` with every link cut to its origin: the paths and queries of mailed links carry secrets.
pub fn redact_links(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            let trimmed = word.trim_end();
            let Some(scheme_end) = trimmed
                .strip_prefix("https://")
                .map(|_| 8)
                .or_else(|| trimmed.strip_prefix("http://").map(|_| 7))
            else {
                return word.to_owned();
            };
            let origin_end = trimmed[scheme_end..]
                .find('/')
                .map_or(trimmed.len(), |i| scheme_end + i);
            format!(
                "{}/<link redacted>{}",
                &trimmed[..origin_end],
                &word[trimmed.len()..]
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_are_cut_to_their_origin() {
        assert_eq!(
            super::redact_links(
                "Open:\nhttps://auth.example.com/api/auth/reset-password/s3cr3t?callbackURL=%2F\nThanks"
            ),
            "Open:\nhttps://auth.example.com/<link redacted>\nThanks"
        );
        assert_eq!(super::redact_links("no link here"), "no link here");
    }
}
