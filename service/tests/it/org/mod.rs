//! The organization domain's rules, through the service alone (no HTTP), on SQLite and
//! PostgreSQL: who may join (limits), owners, roles, teams, and the races between them.

mod admission;
mod owners;
mod races;
mod roles;
mod teams;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use migration::testing::TestDb;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
use service::config::{AuthConfig, Secret};
use service::credentials::NewUser;
use service::db::PoolSize;
use service::error::OrgError;
use service::org::invitations::NewInvitation;
use service::org::organizations::NewOrganization;
use service::session::{ClientInfo, Current, Lookup};
use service::{Auth, Error};

/// A server's rules on a fresh migrated database, with a clock that stands still.
pub struct World {
    pub auth: Auth,
}

impl World {
    pub async fn new(db: &TestDb, configure: impl FnOnce(&mut AuthConfig)) -> Self {
        let conn = service::db::connect(&db.url, PoolSize::default())
            .await
            .unwrap();
        Migrator::up(&conn, None).await.unwrap();
        let mut cfg = AuthConfig::with_secret(Secret::new("service-tests-secret-0123456789abcdef"));
        cfg.read_database(&conn).await.unwrap();
        configure(&mut cfg);
        let clock =
            service::clock::ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap());
        let auth = Auth::new(
            conn,
            service::password::Hasher::new(2, 64),
            cfg,
            Arc::new(clock),
            service::mail::Mailer::Log { links: false },
        );
        Self { auth }
    }

    /// A signed-up user (verified, so invitations may be answered) with a session.
    pub async fn user(&self, email: &str) -> Current {
        let input = NewUser {
            name: email.into(),
            email: email.into(),
            password: "password123".into(),
            image: None,
        };
        let signed = self
            .auth
            .sign_up(input, true, None, &ClientInfo::default())
            .await
            .unwrap();
        let (token, _) = signed.session.expect("auto sign-in");
        let mut verified = signed.user.into_active_model();
        verified.email_verified = Set(true);
        verified.update(&self.auth.db).await.unwrap();
        self.current(&token).await
    }

    /// The session `token` opens, as a request would see it now.
    pub async fn current(&self, token: &str) -> Current {
        match self.auth.session(token, false).await.unwrap() {
            Lookup::Active { current, .. } => *current,
            other => panic!("no session: {other:?}"),
        }
    }

    /// `who` as they are now (their session's active organization and team change).
    pub async fn again(&self, who: &Current) -> Current {
        self.current(&who.token).await
    }

    /// Creates organization `slug` (with its default team) as `owner`.
    pub async fn create(&self, owner: &Current, slug: &str) -> Result<String, Error> {
        let input = NewOrganization {
            name: slug.into(),
            slug: slug.into(),
            logo: None,
            metadata: None,
            keep_current_active: false,
        };
        Ok(self.auth.create_organization(owner, input).await?.0.id)
    }

    /// An organization created by `owner`, with its default team.
    pub async fn organization(&self, owner: &Current, slug: &str) -> String {
        self.create(owner, slug).await.unwrap()
    }

    /// Adds `who` to `organization` with `role`, as the operator does.
    pub async fn add(&self, organization: &str, who: &Current, role: &str) -> Result<(), Error> {
        self.auth
            .add_member(organization, &who.user.email, &[role.to_owned()])
            .await
            .map(|_| ())
    }

    /// `who`'s membership id in `organization`.
    pub async fn member_id(&self, organization: &str, who: &Current) -> String {
        self.auth
            .membership(organization, &who.user.id)
            .await
            .unwrap()
            .expect("a member")
            .id
    }

    /// An invitation from `inviter` to `email` with `role` (and teams).
    pub async fn invite(
        &self,
        inviter: &Current,
        organization: &str,
        email: &str,
        role: &str,
        team_ids: &[&str],
    ) -> Result<String, Error> {
        let input = NewInvitation {
            email: email.into(),
            roles: vec![role.into()],
            organization_id: Some(organization.into()),
            resend: false,
            team_ids: team_ids.iter().map(|t| t.to_string()).collect(),
        };
        Ok(self.auth.invite_member(inviter, input).await?.id)
    }
}

/// The organization rule `e` broke, or a panic naming what `e` is instead.
pub fn refused(e: Error) -> OrgError {
    match e {
        Error::Org(o) => o,
        other => panic!("not an organization rule: {other:?}"),
    }
}
