//! The lean answers (`crate::wire::Lean`) of list-members and get-full-organization write, with
//! serde, the very bytes poem-openapi's `ToJSON` would: for values with and without their
//! nullable fields, with text that needs escaping, and for the empty and `null` answers.

use super::invitations::{Invitation, InvitationStatus};
use super::members::{Member, MemberUser, MemberWithUser, MembersPage};
use super::organizations::{FullOrganizationResponse, Organization, TeamWithCount};
use super::teams::Team;
use crate::auth::dto::Timestamp;
use crate::wire::{same_as_to_json, Nullable};

fn at(s: &str) -> Timestamp {
    Timestamp(s.to_owned())
}

fn member(n: u32, image: Option<&str>) -> MemberWithUser {
    MemberWithUser {
        member: Member {
            id: format!("m{n}"),
            organization_id: "org".into(),
            user_id: format!("u{n}"),
            role: "admin,member".into(),
            created_at: at("2026-12-03T07:00:00.123Z"),
        },
        user: MemberUser {
            id: format!("u{n}"),
            name: "Zoë \"Z\" O'Brien\n\t\u{1}\u{1F600}\\".into(),
            email: format!("user{n}@example.com"),
            image: image.map(str::to_owned).into(),
        },
    }
}

fn full(logo: Option<&str>, metadata: Option<&str>) -> FullOrganizationResponse {
    FullOrganizationResponse {
        organization: Organization {
            id: "org".into(),
            name: "Acme </script> & Co".into(),
            slug: "acme".into(),
            logo: logo.map(str::to_owned).into(),
            created_at: at("2026-01-01T00:00:00.000Z"),
            metadata: metadata.map(str::to_owned).into(),
        },
        invitations: vec![
            Invitation {
                id: "i1".into(),
                organization_id: "org".into(),
                email: "guest@example.com".into(),
                role: Nullable(Some("member".into())),
                team_id: Nullable(None),
                status: InvitationStatus("pending".into()),
                expires_at: at("2026-12-05T00:00:00.000Z"),
                created_at: at("2026-12-03T00:00:00.000Z"),
                inviter_id: "u1".into(),
            },
            Invitation {
                id: "i2".into(),
                organization_id: "org".into(),
                email: "other@example.com".into(),
                role: Nullable(None),
                team_id: Nullable(Some("t1,t2".into())),
                status: InvitationStatus("canceled".into()),
                expires_at: at("2026-12-05T00:00:00.000Z"),
                created_at: at("2026-12-03T00:00:01.000Z"),
                inviter_id: "u2".into(),
            },
        ],
        members: vec![
            member(1, None),
            member(2, Some("https://example.com/a.png")),
        ],
        teams: vec![
            TeamWithCount {
                team: Team {
                    id: "t1".into(),
                    name: "Default".into(),
                    organization_id: "org".into(),
                    created_at: at("2026-01-01T00:00:00.000Z"),
                    updated_at: Nullable(None),
                },
                member_count: 0,
            },
            TeamWithCount {
                team: Team {
                    id: "t2".into(),
                    name: "Ops".into(),
                    organization_id: "org".into(),
                    created_at: at("2026-01-02T00:00:00.000Z"),
                    updated_at: Nullable(Some(at("2026-02-02T00:00:00.000Z"))),
                },
                member_count: u64::MAX,
            },
        ],
    }
}

#[test]
fn members_pages_write_what_to_json_writes() {
    for page in [
        MembersPage {
            members: vec![
                member(1, None),
                member(2, Some("https://example.com/a.png")),
            ],
            total: 10_000,
        },
        MembersPage {
            members: Vec::new(),
            total: 0,
        },
    ] {
        assert!(same_as_to_json(&page));
    }
}

#[test]
fn full_organizations_write_what_to_json_writes() {
    assert!(same_as_to_json(&Nullable(Some(full(None, None)))));
    assert!(same_as_to_json(&Nullable(Some(full(
        Some("https://example.com/logo.png"),
        Some(r#"{"plan":"pro","seats":10}"#),
    )))));
    let mut empty = full(None, None);
    (empty.invitations, empty.members, empty.teams) = (Vec::new(), Vec::new(), Vec::new());
    assert!(same_as_to_json(&Nullable(Some(empty))));
    assert!(same_as_to_json(&Nullable::<FullOrganizationResponse>(None)));
}

#[test]
fn a_key_out_of_order_is_caught() {
    // The comparison is of bytes: the same object with its keys in another order differs.
    let value = serde_json::json!({"b": 1, "a": 2});
    assert_ne!(
        serde_json::to_string(&value).unwrap(),
        r#"{"b":1,"a":2}"#,
        "serde_json's Map sorts its keys, as poem-openapi's ToJSON output does"
    );
}
