//! The organization plugin's domain: organizations, their members, invitations and teams, and
//! what roles allow ([`access`]). Where an invitation is decided: [`invitations`]; a member's
//! roles and departures: [`members`]; teams and who is in them: [`teams`].
//!
//! Every change to an organization's members, invitations or teams runs in one transaction that
//! first locks the organization's row ([`Locked`]): PostgreSQL serialises them on that lock
//! (`FOR UPDATE`), SQLite has a single writer. The steps shared by several routes — admitting a
//! member, admitting to a team, reading the caller's membership and checking their permission —
//! are methods of [`Locked`], so they only run inside such a transaction, and what they count
//! (limits, owners) holds until it commits. Reads that change nothing use the batched lookups
//! ([`crate::lookups`]) instead.

pub mod access;
pub mod invitations;
pub mod members;
pub mod organizations;
pub mod teams;

use chrono::NaiveDateTime;
use entity::{member, organization};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};

use crate::better_auth_columns::BetterAuthColumns;
use crate::clock::db_time;
use crate::config::OrgConfig;
use crate::error::OrgError;
use crate::{Auth, Result};
use access::Permission;

/// One organization's changes in progress: a transaction that holds the organization's row
/// locked (or inserted it), with the settings the rules read and the time of the change.
pub(crate) struct Locked<'a> {
    pub txn: &'a DatabaseTransaction,
    pub organization: organization::Model,
    pub cfg: &'a OrgConfig,
    pub columns: &'a BetterAuthColumns,
    pub now: NaiveDateTime,
}

/// Locks organization `id`'s row until `txn` ends; `None` when there is no such organization.
async fn lock_row(txn: &DatabaseTransaction, id: &str) -> Result<Option<organization::Model>> {
    Ok(organization::Entity::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?)
}

impl Auth {
    /// Organization `id`, locked in `txn`; `None` when there is no such organization.
    pub(crate) async fn lock<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        id: &str,
    ) -> Result<Option<Locked<'a>>> {
        let Some(organization) = lock_row(txn, id).await? else {
            return Ok(None);
        };
        Ok(Some(self.locked(txn, organization)))
    }

    /// `organization`, whose row `txn` holds (locked, or inserted by it).
    pub(crate) fn locked<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        organization: organization::Model,
    ) -> Locked<'a> {
        Locked {
            txn,
            organization,
            cfg: &self.cfg.org,
            columns: &self.cfg.columns,
            now: db_time(self.clock.now()),
        }
    }

    /// Organization `id` locked in `txn`, with `user_id`'s membership of it if that allows
    /// `permission`: `not_member` when they are not a member (or there is no such organization),
    /// `refused` when none of their roles allows it.
    pub(crate) async fn lock_as<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        id: &str,
        user_id: &str,
        permission: Permission,
        (not_member, refused): (OrgError, OrgError),
    ) -> Result<(Locked<'a>, member::Model)> {
        let locked = self.lock(txn, id).await?.ok_or(not_member)?;
        let me = locked.member(user_id).await?.ok_or(not_member)?;
        if !locked.cfg.roles.can(&me.role, permission) {
            return Err(refused.into());
        }
        Ok((locked, me))
    }
}

impl Locked<'_> {
    pub fn id(&self) -> &str {
        &self.organization.id
    }

    /// `user_id`'s membership of the organization.
    pub async fn member(&self, user_id: &str) -> Result<Option<member::Model>> {
        Ok(member::Entity::find()
            .filter(member::Column::OrganizationId.eq(self.id()))
            .filter(member::Column::UserId.eq(user_id))
            .one(self.txn)
            .await?)
    }
}
