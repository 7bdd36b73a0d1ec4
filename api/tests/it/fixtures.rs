//! What many tests start from: signed-in users, an organization with members in given roles, an
//! invitation sent or accepted, and the token of a mailed reset link. Each step asserts that it
//! worked, so a test fails at the step that broke, not later.

use std::ops::Deref;

use entity::{member, team, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{json, Value};

use crate::harness::{expect_ok, parts, Browser, TestServer, ORIGIN};
use crate::smtp::MailSink;

/// The password every fixture user signs up with.
pub const PASSWORD: &str = "password123";

/// A signed-up user, signed in in a browser of their own. Dereferences to that browser.
pub struct User {
    pub browser: Browser,
    pub id: String,
}

impl Deref for User {
    type Target = Browser;

    fn deref(&self) -> &Browser {
        &self.browser
    }
}

impl User {
    /// Signs up `email` with [`PASSWORD`] (address not verified).
    pub async fn sign_up(server: &TestServer, email: &str) -> Self {
        let browser = server.browser();
        let body = browser.sign_up(email, PASSWORD).await;
        Self {
            browser,
            id: body["user"]["id"].as_str().unwrap().to_owned(),
        }
    }

    /// Signs up `email` and marks the address verified.
    pub async fn verified(server: &TestServer, email: &str) -> Self {
        let user = Self::sign_up(server, email).await;
        verify_email(server, email).await;
        user
    }
}

/// Marks `email`'s address verified in the database.
pub async fn verify_email(server: &TestServer, email: &str) {
    let u = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&server.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no user {email}"));
    let mut u = u.into_active_model();
    u.email_verified = Set(true);
    u.update(&server.db).await.unwrap();
    server.settle().await;
}

/// A member of an organization: the user and the member id.
pub struct Member {
    pub user: User,
    pub id: String,
}

impl Deref for Member {
    type Target = User;

    fn deref(&self) -> &User {
        &self.user
    }
}

/// An organization its owner created, with its default team. The owner's session has it active.
pub struct Org {
    pub id: String,
    pub owner: User,
    pub owner_member: String,
    pub default_team: String,
}

impl Org {
    /// `owner-{slug}@example.com` (unverified) creates the organization named `slug`.
    pub async fn new(server: &TestServer, slug: &str) -> Self {
        let owner = User::sign_up(server, &format!("owner-{slug}@example.com")).await;
        Self::create(server, owner, slug, slug).await
    }

    /// `owner` creates the organization `name` with `slug`.
    pub async fn create(server: &TestServer, owner: User, name: &str, slug: &str) -> Self {
        let created = expect_ok(
            owner
                .post("/organization/create", json!({"name": name, "slug": slug}))
                .await,
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let default_team = team::Entity::find()
            .filter(team::Column::OrganizationId.eq(&id))
            .one(&server.db)
            .await
            .unwrap()
            .expect("the default team")
            .id;
        let owner_member = created["members"][0]["id"].as_str().unwrap().to_owned();
        Self {
            id,
            owner,
            owner_member,
            default_team,
        }
    }

    /// Makes `user` a member with `role` directly in the database (invitations are not under
    /// test); their active organization is unchanged. Returns the member id.
    pub async fn add(&self, server: &TestServer, user: &User, role: &str) -> String {
        member::ActiveModel {
            organization_id: Set(self.id.clone()),
            user_id: Set(user.id.clone()),
            role: Set(role.to_owned()),
            ..Default::default()
        }
        .insert(&server.db)
        .await
        .unwrap()
        .id
    }

    /// Signs up `email`, adds them with `role` ([`Org::add`]) and makes this organization active
    /// on their session.
    pub async fn join(&self, server: &TestServer, email: &str, role: &str) -> Member {
        let user = User::sign_up(server, email).await;
        let id = self.add(server, &user, role).await;
        expect_ok(
            user.post(
                "/organization/set-active",
                json!({"organizationId": self.id}),
            )
            .await,
        )
        .await;
        Member { user, id }
    }

    /// The owner's `invite-member` with `body`, as sent.
    pub async fn invite(&self, body: Value) -> (u16, Value) {
        parts(self.owner.post("/organization/invite-member", body).await).await
    }

    /// The owner invites `email` as `role` into this organization; returns the invitation.
    pub async fn invitation(&self, email: &str, role: &str) -> Value {
        expect_ok(
            self.invite(json!({"email": email, "role": role, "organizationId": self.id}))
                .await,
        )
        .await
    }

    /// `email` (signed up and verified) accepts an invitation as `role`. Returns the new member
    /// and the invitation as sent.
    pub async fn accepted(&self, server: &TestServer, email: &str, role: &str) -> (Member, Value) {
        let invitation = self.invitation(email, role).await;
        let user = User::verified(server, email).await;
        let answer = expect_ok(accept(&user, &invitation["id"]).await).await;
        let id = answer["member"]["id"].as_str().unwrap().to_owned();
        (Member { user, id }, invitation)
    }
}

/// `b`'s `accept-invitation` of `invitation` (its id).
pub async fn accept(b: &Browser, invitation: &Value) -> (u16, Value) {
    parts(
        b.post(
            "/organization/accept-invitation",
            json!({"invitationId": invitation}),
        )
        .await,
    )
    .await
}

/// The link in a reset mail, as mailed.
pub fn reset_link(mail: &crate::smtp::Delivered) -> String {
    MailSink::link(mail, &format!("{ORIGIN}/api/auth/reset-password/"))
}

/// The token in a reset link.
pub fn reset_token_of(link: &str) -> String {
    link.split("/reset-password/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

/// The token of the `n`-th mail to `email`, a reset mail.
pub async fn reset_token(server: &TestServer, email: &str, n: usize) -> String {
    reset_token_of(&reset_link(&server.mail.wait(email, n).await))
}
