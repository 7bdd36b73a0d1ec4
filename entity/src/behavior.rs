//! What every save does, as the seed's `$defaultFn`/`$onUpdate` do in Drizzle: a new row gets a
//! UUIDv7 id and its creation time, and every update of a table with `updated_at` moves it.
//!
//! A value the caller set explicitly is kept, so the service can stamp rows with its own
//! clock (`service::clock::Clock`) and tests can move time. These hooks run for
//! `ActiveModel::insert/update/save`; bulk `update_many` statements set `updated_at` themselves.

use chrono::{SubsecRound, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::ActiveValue::{self, Set};

use crate::{
    account, invitation, member, organization, session, team, team_member, user, verification,
};

/// A new row id: a UUIDv7, time-ordered so inserts stay at the right edge of the primary key index.
pub fn new_id() -> String {
    Uuid::now_v7().to_string()
}

/// Now, at the millisecond precision the wire format carries, so a stored time reads back equal
/// on both backends.
fn now() -> DateTime {
    Utc::now().naive_utc().trunc_subsecs(3)
}

fn fill<T: Into<sea_orm::Value>>(value: &mut ActiveValue<T>, v: T) {
    if value.is_not_set() {
        *value = Set(v);
    }
}

/// On update, `updated_at` moves unless the caller chose its value.
fn touch<T: Into<sea_orm::Value>>(value: &mut ActiveValue<T>, v: T) {
    if !matches!(value, ActiveValue::Set(_)) {
        *value = Set(v);
    }
}

/// Implements `ActiveModelBehavior` for entities: `id` and `created_at` filled on insert, and for
/// those listed with `updated_at`, that column moved on every save (`optional`: a nullable column).
macro_rules! behavior {
    ($($entity:ident { created: $created:ident $(, updated: $updated:ident)? }),* $(,)?) => {$(
        #[async_trait::async_trait]
        impl ActiveModelBehavior for $entity::ActiveModel {
            async fn before_save<C>(mut self, _db: &C, insert: bool) -> Result<Self, DbErr>
            where
                C: ConnectionTrait,
            {
                let now = now();
                if insert {
                    fill(&mut self.id, new_id());
                    fill(&mut self.created_at, behavior!(@ts $created, now));
                }
                $(touch(&mut self.updated_at, behavior!(@ts $updated, now));)?
                Ok(self)
            }
        }
    )*};
    (@ts required, $now:ident) => { $now };
    (@ts optional, $now:ident) => { Some($now) };
}

behavior! {
    user { created: required, updated: required },
    session { created: required, updated: required },
    account { created: required, updated: required },
    verification { created: required, updated: required },
    organization { created: required },
    team { created: required, updated: optional },
    member { created: required },
    team_member { created: optional },
    invitation { created: required },
}

/// The rate-limit counters are written by one upsert (`service::rate_limit`), never through an
/// active model; an insert through one still gets an id.
#[async_trait::async_trait]
impl ActiveModelBehavior for crate::rate_limit::ActiveModel {
    async fn before_save<C>(mut self, _db: &C, insert: bool) -> Result<Self, DbErr>
    where
        C: ConnectionTrait,
    {
        if insert {
            fill(&mut self.id, new_id());
        }
        Ok(self)
    }
}
