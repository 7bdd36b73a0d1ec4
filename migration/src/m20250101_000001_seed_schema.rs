//! The seed's nine tables, exactly as Drizzle emits them for ZeroStarter (see
//! `tests/fixtures/drizzle-export.sql`): table, column, constraint and index names, types,
//! nullability, defaults and `ON DELETE CASCADE` where the seed has it and nowhere else.
//! `session.active_organization_id`, `session.active_team_id` and `invitation.team_id` carry no
//! foreign key, as in the seed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::{adopt, constraints};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20250101_000001_seed_schema"
    }
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
    Name,
    Email,
    EmailVerified,
    Image,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Session {
    Table,
    Id,
    ExpiresAt,
    Token,
    CreatedAt,
    UpdatedAt,
    IpAddress,
    UserAgent,
    UserId,
    ActiveOrganizationId,
    ActiveTeamId,
}

/// Column names are the seed's (`account_id` included).
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Account {
    Table,
    Id,
    AccountId,
    ProviderId,
    UserId,
    AccessToken,
    RefreshToken,
    IdToken,
    AccessTokenExpiresAt,
    RefreshTokenExpiresAt,
    Scope,
    Password,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Verification {
    Table,
    Id,
    Identifier,
    Value,
    ExpiresAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Organization {
    Table,
    Id,
    Name,
    Slug,
    Logo,
    CreatedAt,
    Metadata,
}

#[derive(DeriveIden)]
enum Team {
    Table,
    Id,
    Name,
    OrganizationId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Member {
    Table,
    Id,
    OrganizationId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TeamMember {
    Table,
    Id,
    TeamId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Invitation {
    Table,
    Id,
    OrganizationId,
    Email,
    Role,
    TeamId,
    Status,
    ExpiresAt,
    CreatedAt,
    InviterId,
}

/// Column builders for the seed's three types; `now()` is the seed's default, spelled the way
/// each backend understands it.
struct Cols {
    backend: DbBackend,
}

impl Cols {
    fn id(&self, name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name).text().not_null().primary_key().take()
    }
    fn text(&self, name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name).text().not_null().take()
    }
    fn text_null(&self, name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name).text().null().take()
    }
    fn ts(&self, name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name).timestamp().not_null().take()
    }
    fn ts_null(&self, name: impl IntoIden) -> ColumnDef {
        ColumnDef::new(name).timestamp().null().take()
    }
    fn ts_now(&self, name: impl IntoIden) -> ColumnDef {
        let now = match self.backend {
            DbBackend::Postgres => Expr::cust("now()"),
            _ => Expr::current_timestamp(),
        };
        self.ts(name).default(now).take()
    }
}

/// `ON DELETE CASCADE ON UPDATE NO ACTION`, named as Drizzle names it: `<table>_<col>_<ref>_<refcol>_fk`.
fn cascade(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::NoAction)
        .take()
}

fn index(name: &str, table: impl IntoIden, col: impl IntoIden) -> IndexCreateStatement {
    Index::create().name(name).table(table).col(col).take()
}

/// Creates `table`, keeping its foreign keys' names on SQLite too: SeaQuery's SQLite builder
/// leaves them out, so they are written into the rendered statement in declaration order.
async fn create_table(
    manager: &SchemaManager<'_>,
    table: TableCreateStatement,
) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Sqlite {
        return manager.create_table(table).await;
    }
    let names: Vec<String> = table
        .get_foreign_key_create_stmts()
        .iter()
        .map(|fk| {
            fk.get_foreign_key()
                .get_name()
                .expect("every foreign key is named")
                .to_owned()
        })
        .collect();
    let mut sql = table.to_string(SqliteQueryBuilder);
    let mut from = 0;
    for name in names {
        let at = from
            + sql[from..]
                .find("FOREIGN KEY (")
                .expect("rendered foreign key");
        let constraint = format!("CONSTRAINT \"{name}\" ");
        sql.insert_str(at, &constraint);
        from = at + constraint.len() + "FOREIGN KEY (".len();
    }
    manager
        .get_connection()
        .execute_unprepared(&sql)
        .await
        .map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// Creates the seed's tables, or adopts them where they already exist (see [`adopt`]).
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if adopt::present_seed_tables(db).await?.is_empty() {
            return create(manager).await;
        }
        let expected = adopt::expected_shape(manager).await?;
        let differences = adopt::differences(&expected, &adopt::shape(db).await?);
        if !differences.is_empty() {
            return Err(DbErr::Migration(format!(
                "the existing tables cannot be adopted, so nothing was changed; {} difference(s) \
                 from the schema orgauth needs:\n  - {}",
                differences.len(),
                differences.join("\n  - ")
            )));
        }
        adopt::record(db, self.name()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if adopt::adopted(manager.get_connection())
            .await?
            .contains_key(self.name())
        {
            return Err(DbErr::Migration(format!(
                "{} adopted tables that existed before orgauth; orgauth does not drop them \
                 (drop them yourself, or use `migrate fresh` to drop every table)",
                self.name()
            )));
        }
        // Children before parents; indexes go with their tables.
        let tables = [
            Invitation::Table.into_iden(),
            TeamMember::Table.into_iden(),
            Member::Table.into_iden(),
            Team::Table.into_iden(),
            Organization::Table.into_iden(),
            Verification::Table.into_iden(),
            Account::Table.into_iden(),
            Session::Table.into_iden(),
            User::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).take())
                .await?;
        }
        Ok(())
    }
}

/// The seed's tables and indexes, created on `manager`.
pub(crate) async fn create(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let c = Cols {
        backend: manager.get_database_backend(),
    };

    let tables = [
        Table::create()
            .table(User::Table)
            .col(c.id(User::Id))
            .col(c.text(User::Name))
            .col(c.text(User::Email))
            .col(
                ColumnDef::new(User::EmailVerified)
                    .boolean()
                    .not_null()
                    .default(false),
            )
            .col(c.text_null(User::Image))
            .col(c.ts_now(User::CreatedAt))
            .col(c.ts_now(User::UpdatedAt))
            .index(
                Index::create()
                    .name(constraints::USER_EMAIL.name())
                    .col(User::Email)
                    .unique(),
            )
            .take(),
        Table::create()
            .table(Session::Table)
            .col(c.id(Session::Id))
            .col(c.ts(Session::ExpiresAt))
            .col(c.text(Session::Token))
            .col(c.ts_now(Session::CreatedAt))
            .col(c.ts(Session::UpdatedAt))
            .col(c.text_null(Session::IpAddress))
            .col(c.text_null(Session::UserAgent))
            .col(c.text(Session::UserId))
            .col(c.text_null(Session::ActiveOrganizationId))
            .col(c.text_null(Session::ActiveTeamId))
            .index(
                Index::create()
                    .name(constraints::SESSION_TOKEN.name())
                    .col(Session::Token)
                    .unique(),
            )
            .foreign_key(&mut cascade(
                "session_user_id_user_id_fk",
                (Session::Table, Session::UserId),
                (User::Table, User::Id),
            ))
            .take(),
        Table::create()
            .table(Account::Table)
            .col(c.id(Account::Id))
            .col(c.text(Account::AccountId))
            .col(c.text(Account::ProviderId))
            .col(c.text(Account::UserId))
            .col(c.text_null(Account::AccessToken))
            .col(c.text_null(Account::RefreshToken))
            .col(c.text_null(Account::IdToken))
            .col(c.ts_null(Account::AccessTokenExpiresAt))
            .col(c.ts_null(Account::RefreshTokenExpiresAt))
            .col(c.text_null(Account::Scope))
            .col(c.text_null(Account::Password))
            .col(c.ts_now(Account::CreatedAt))
            .col(c.ts(Account::UpdatedAt))
            .foreign_key(&mut cascade(
                "account_user_id_user_id_fk",
                (Account::Table, Account::UserId),
                (User::Table, User::Id),
            ))
            .take(),
        Table::create()
            .table(Verification::Table)
            .col(c.id(Verification::Id))
            .col(c.text(Verification::Identifier))
            .col(c.text(Verification::Value))
            .col(c.ts(Verification::ExpiresAt))
            .col(c.ts_now(Verification::CreatedAt))
            .col(c.ts_now(Verification::UpdatedAt))
            .take(),
        Table::create()
            .table(Organization::Table)
            .col(c.id(Organization::Id))
            .col(c.text(Organization::Name))
            .col(c.text(Organization::Slug))
            .col(c.text_null(Organization::Logo))
            .col(c.ts(Organization::CreatedAt))
            .col(c.text_null(Organization::Metadata))
            .index(
                Index::create()
                    .name(constraints::ORGANIZATION_SLUG.names[0])
                    .col(Organization::Slug)
                    .unique(),
            )
            .take(),
        Table::create()
            .table(Team::Table)
            .col(c.id(Team::Id))
            .col(c.text(Team::Name))
            .col(c.text(Team::OrganizationId))
            .col(c.ts(Team::CreatedAt))
            .col(c.ts_null(Team::UpdatedAt))
            .foreign_key(&mut cascade(
                "team_organization_id_organization_id_fk",
                (Team::Table, Team::OrganizationId),
                (Organization::Table, Organization::Id),
            ))
            .take(),
        Table::create()
            .table(Member::Table)
            .col(c.id(Member::Id))
            .col(c.text(Member::OrganizationId))
            .col(c.text(Member::UserId))
            .col(c.text(Member::Role).default("member"))
            .col(c.ts(Member::CreatedAt))
            .foreign_key(&mut cascade(
                "member_organization_id_organization_id_fk",
                (Member::Table, Member::OrganizationId),
                (Organization::Table, Organization::Id),
            ))
            .foreign_key(&mut cascade(
                "member_user_id_user_id_fk",
                (Member::Table, Member::UserId),
                (User::Table, User::Id),
            ))
            .take(),
        Table::create()
            .table(TeamMember::Table)
            .col(c.id(TeamMember::Id))
            .col(c.text(TeamMember::TeamId))
            .col(c.text(TeamMember::UserId))
            .col(c.ts_null(TeamMember::CreatedAt))
            .foreign_key(&mut cascade(
                "team_member_team_id_team_id_fk",
                (TeamMember::Table, TeamMember::TeamId),
                (Team::Table, Team::Id),
            ))
            .foreign_key(&mut cascade(
                "team_member_user_id_user_id_fk",
                (TeamMember::Table, TeamMember::UserId),
                (User::Table, User::Id),
            ))
            .take(),
        Table::create()
            .table(Invitation::Table)
            .col(c.id(Invitation::Id))
            .col(c.text(Invitation::OrganizationId))
            .col(c.text(Invitation::Email))
            .col(c.text_null(Invitation::Role))
            .col(c.text_null(Invitation::TeamId))
            .col(c.text(Invitation::Status).default("pending"))
            .col(c.ts(Invitation::ExpiresAt))
            .col(c.ts_now(Invitation::CreatedAt))
            .col(c.text(Invitation::InviterId))
            .foreign_key(&mut cascade(
                "invitation_organization_id_organization_id_fk",
                (Invitation::Table, Invitation::OrganizationId),
                (Organization::Table, Organization::Id),
            ))
            .foreign_key(&mut cascade(
                "invitation_inviter_id_user_id_fk",
                (Invitation::Table, Invitation::InviterId),
                (User::Table, User::Id),
            ))
            .take(),
    ];
    for table in tables {
        create_table(manager, table).await?;
    }

    let indexes = [
        index("account_userId_idx", Account::Table, Account::UserId),
        index(
            "invitation_organizationId_idx",
            Invitation::Table,
            Invitation::OrganizationId,
        ),
        index("invitation_email_idx", Invitation::Table, Invitation::Email),
        index(
            "member_organizationId_idx",
            Member::Table,
            Member::OrganizationId,
        ),
        index("member_userId_idx", Member::Table, Member::UserId),
        index(
            constraints::ORGANIZATION_SLUG.names[1],
            Organization::Table,
            Organization::Slug,
        )
        .unique()
        .take(),
        index("session_userId_idx", Session::Table, Session::UserId),
        index("team_organizationId_idx", Team::Table, Team::OrganizationId),
        index(
            "teamMember_teamId_idx",
            TeamMember::Table,
            TeamMember::TeamId,
        ),
        index(
            "teamMember_userId_idx",
            TeamMember::Table,
            TeamMember::UserId,
        ),
        index(
            "verification_identifier_idx",
            Verification::Table,
            Verification::Identifier,
        ),
    ];
    for index in indexes {
        manager.create_index(index).await?;
    }
    Ok(())
}
