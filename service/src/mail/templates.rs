//! Every mail is rendered from templates (MiniJinja): `<name>.txt.jinja` gives the subject (its
//! `subject` block) and the plain-text part, `<name>.html.jinja` the HTML part, both extending a
//! layout (`layout.txt.jinja`, `layout.html.jinja`). The built-in ones are compiled in; a file of
//! the same name in `ORGAUTH_MAIL_TEMPLATES` replaces one. Every template is rendered once at
//! start with sample values, so a broken override stops the server instead of a mail.

use std::path::Path;

use minijinja::{context, AutoEscape, Environment, UndefinedBehavior, Value};

use super::{Mail, MailError};

/// The mails orgauth sends; each is a template pair named [`Kind::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `link`, `minutes`.
    VerifyEmail,
    /// To the new address of a change: `link`, `minutes`.
    ConfirmNewEmail,
    /// To the old address when a change is asked for: `new_email`.
    EmailChangeRequested,
    /// To the old address when the change is done: `new_email`.
    EmailChanged,
    /// `link`, `minutes`.
    ResetPassword,
    PasswordReset,
    PasswordChanged,
    /// To the owner of an address someone tried to sign up with.
    SignUpAttempt,
    /// `link`.
    DeleteAccount,
    /// `inviter_name`, `inviter_email`, `organization`, `role`, `link`, `hours`.
    Invitation,
    /// `provider`, `revoked` (`""`, `"linking"` or `"sign-in"`).
    ProviderLinked,
    /// A sign-in link: `link`, `minutes`.
    MagicLink,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::VerifyEmail,
        Kind::ConfirmNewEmail,
        Kind::EmailChangeRequested,
        Kind::EmailChanged,
        Kind::ResetPassword,
        Kind::PasswordReset,
        Kind::PasswordChanged,
        Kind::SignUpAttempt,
        Kind::DeleteAccount,
        Kind::Invitation,
        Kind::ProviderLinked,
        Kind::MagicLink,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::VerifyEmail => "verify-email",
            Kind::ConfirmNewEmail => "confirm-new-email",
            Kind::EmailChangeRequested => "email-change-requested",
            Kind::EmailChanged => "email-changed",
            Kind::ResetPassword => "reset-password",
            Kind::PasswordReset => "password-reset",
            Kind::PasswordChanged => "password-changed",
            Kind::SignUpAttempt => "sign-up-attempt",
            Kind::DeleteAccount => "delete-account",
            Kind::Invitation => "invitation",
            Kind::ProviderLinked => "provider-linked",
            Kind::MagicLink => "magic-link",
        }
    }

    /// Values of the shape the server passes, to check templates with at start.
    fn sample(self) -> Value {
        let link = "https://auth.example.com/api/auth/verify-email?token=t&callbackURL=%2F";
        context! {
            link, minutes => 60, hours => 48, new_email => "new@example.com",
            inviter_name => "Ada", inviter_email => "ada@example.com", organization => "Acme",
            role => "member", provider => "GitHub", revoked => "linking",
        }
    }
}

macro_rules! built_in {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("templates/", $file)))),*]
    };
}

const BUILT_IN: &[(&str, &str)] = built_in!(
    "layout.txt.jinja",
    "layout.html.jinja",
    "verify-email.txt.jinja",
    "verify-email.html.jinja",
    "confirm-new-email.txt.jinja",
    "confirm-new-email.html.jinja",
    "email-change-requested.txt.jinja",
    "email-change-requested.html.jinja",
    "email-changed.txt.jinja",
    "email-changed.html.jinja",
    "reset-password.txt.jinja",
    "reset-password.html.jinja",
    "password-reset.txt.jinja",
    "password-reset.html.jinja",
    "password-changed.txt.jinja",
    "password-changed.html.jinja",
    "sign-up-attempt.txt.jinja",
    "sign-up-attempt.html.jinja",
    "delete-account.txt.jinja",
    "delete-account.html.jinja",
    "invitation.txt.jinja",
    "invitation.html.jinja",
    "provider-linked.txt.jinja",
    "provider-linked.html.jinja",
    "magic-link.txt.jinja",
    "magic-link.html.jinja",
);

/// The templates in use, and the built-in ones to fall back on if an override fails on values
/// the start-up check did not try.
pub struct Templates {
    env: Environment<'static>,
    built_in: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new("orgauth", "http://localhost:3000", None).expect("the built-in templates render")
    }
}

fn environment(app_name: &str, base_url: &str) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters"),
    );
    env.set_auto_escape_callback(|name| match name.ends_with(".html.jinja") {
        true => AutoEscape::Html,
        false => AutoEscape::None,
    });
    env.add_global("app_name", app_name.to_owned());
    env.add_global("base_url", base_url.to_owned());
    env
}

impl Templates {
    /// The built-in templates, with those of `dir` in their place where it has a file of the same
    /// name. A file in `dir` that names no template, or any template that fails on sample values,
    /// is an error naming the file.
    pub fn new(app_name: &str, base_url: &str, dir: Option<&Path>) -> Result<Self, MailError> {
        let mut built_in = environment(app_name, base_url);
        for (name, source) in BUILT_IN {
            built_in
                .add_template(name, source)
                .map_err(|e| MailError::Template(format!("{name}: {e}")))?;
        }
        let mut env = built_in.clone();
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| MailError::Template(format!("cannot read {}: {e}", dir.display())))?;
            for entry in entries {
                let path = entry
                    .map_err(|e| MailError::Template(format!("{}: {e}", dir.display())))?
                    .path();
                let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
                let Some((name, _)) = BUILT_IN.iter().find(|(name, _)| *name == file) else {
                    return Err(MailError::Template(format!(
                        "{} is not a template orgauth has (see docs/configuration.md#mail)",
                        path.display()
                    )));
                };
                let source = std::fs::read_to_string(&path)
                    .map_err(|e| MailError::Template(format!("{}: {e}", path.display())))?;
                env.add_template_owned(*name, source)
                    .map_err(|e| MailError::Template(format!("{}: {e}", path.display())))?;
            }
        }
        let templates = Templates { env, built_in };
        for kind in Kind::ALL {
            render_with(&templates.env, kind, "sample@example.com", kind.sample())
                .map_err(|e| MailError::Template(format!("{}: {e:#}", kind.name())))?;
        }
        Ok(templates)
    }

    /// The mail `kind` to `to`, with `values`. An override that fails here (it passed the start-up
    /// check) is logged and the built-in template is used: the mail still goes out.
    pub fn render(&self, kind: Kind, to: &str, values: Value) -> Mail {
        match render_with(&self.env, kind, to, values.clone()) {
            Ok(mail) => mail,
            Err(e) => {
                tracing::error!(template = kind.name(), error = %e, "a mail template failed; the built-in one is used");
                render_with(&self.built_in, kind, to, values)
                    .expect("the built-in templates render")
            }
        }
    }
}

/// `kind` rendered by `env`: the subject block and body of the text template, and the HTML one.
fn render_with(
    env: &Environment<'static>,
    kind: Kind,
    to: &str,
    values: Value,
) -> Result<Mail, minijinja::Error> {
    let text = env.get_template(&format!("{}.txt.jinja", kind.name()))?;
    let mut captured = text.render_captured(values.clone())?;
    let subject = captured.with_state_mut(|state| state.render_block("subject"))?;
    let html = env
        .get_template(&format!("{}.html.jinja", kind.name()))?
        .render(values)?;
    Ok(Mail {
        to: to.to_owned(),
        subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
        text: captured.into_output().trim().to_owned() + "\n",
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_templates_render_both_parts() {
        let t = Templates::new("Acme App", "https://auth.example.com", None).unwrap();
        let mail = t.render(
            Kind::ResetPassword,
            "a@example.com",
            context! { link => "https://auth.example.com/x?a=1&b=<2>", minutes => 60 },
        );
        assert_eq!(mail.subject, "Reset your Acme App password");
        assert!(
            mail.text.contains(
                "\nhttps://auth.example.com/x?a=1&b=<2>\n\nThe link works once, for 60 minutes."
            ),
            "{}",
            mail.text
        );
        assert!(mail.text.ends_with("-- \nAcme App\n"), "{}", mail.text);
        assert!(mail.html.contains("a=1&amp;b=&lt;2&gt;"), "{}", mail.html);
        assert!(!mail.html.contains("<2>"), "{}", mail.html);
    }

    #[test]
    fn overrides_replace_by_name_and_are_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("password-changed.txt.jinja"),
            "{% extends \"layout.txt.jinja\" %}{% block subject %}{{ app_name }}: new password{% endblock %}{% block body %}Changed.{% endblock %}",
        )
        .unwrap();
        let t = Templates::new("Acme", "https://a.example", Some(dir.path())).unwrap();
        let mail = t.render(Kind::PasswordChanged, "a@example.com", context! {});
        assert_eq!(mail.subject, "Acme: new password");
        assert!(mail.text.starts_with("Changed."), "{}", mail.text);
        assert!(mail
            .html
            .contains("The password of your account was just changed."));

        std::fs::write(
            dir.path().join("password-changed.txt.jinja"),
            "{% block subject %}{{ no_such_value }}{% endblock %}",
        )
        .unwrap();
        let e = Templates::new("Acme", "https://a.example", Some(dir.path())).unwrap_err();
        assert!(e.to_string().contains("password-changed"), "{e}");

        std::fs::remove_file(dir.path().join("password-changed.txt.jinja")).unwrap();
        std::fs::write(dir.path().join("pasword-changed.txt.jinja"), "x").unwrap();
        let e = Templates::new("Acme", "https://a.example", Some(dir.path())).unwrap_err();
        assert!(
            e.to_string().contains("is not a template orgauth has"),
            "{e}"
        );
    }
}
