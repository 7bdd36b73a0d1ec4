//! The organization plugin's routes, one file per group as the service has one module per
//! concept (`service::org`): [`organizations`], [`members`], [`invitations`], [`teams`]. Each file
//! holds its routes and the wire shapes they read and answer; the rules are the service's.

mod invitations;
#[cfg(test)]
mod lean_answers;
mod members;
mod organizations;
mod teams;

pub use invitations::InvitationsApi;
pub use members::MembersApi;
pub use organizations::OrganizationApi;
pub use teams::TeamsApi;

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::Tags;
use serde_json::Value;

/// The organization plugin's groups of operations.
#[derive(Tags)]
pub enum Tag {
    /// Organizations, and the caller's active organization.
    Organizations,
    /// An organization's members: roles, permissions, leaving and removal.
    Members,
    /// Invitations to join an organization: sending, answering, canceling, listing.
    Invitations,
    /// Teams inside an organization, who is in them, and the caller's active team.
    Teams,
}

/// Declares `$name`: one string or a list of them, documented as `anyOf: [string, array]`
/// (poem-openapi's `Union` derive adds a `"type": "object"` that neither branch matches).
macro_rules! string_or_list {
    ($name:ident, $description:literal) => {
        #[doc = $description]
        #[derive(Debug)]
        pub enum $name {
            One(String),
            Many(Vec<String>),
        }

        impl $name {
            pub fn into_vec(self) -> Vec<String> {
                match self {
                    Self::One(s) => vec![s],
                    Self::Many(v) => v,
                }
            }
        }

        impl Type for $name {
            const IS_REQUIRED: bool = true;

            type RawValueType = Self;

            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Reference(Self::name().into_owned())
            }

            fn register(registry: &mut Registry) {
                registry.create_schema::<Self, _>(Self::name().into_owned(), |_| MetaSchema {
                    description: Some($description),
                    any_of: vec![String::schema_ref(), <Vec<String>>::schema_ref()],
                    ..MetaSchema::ANY
                });
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(std::iter::once(self))
            }
        }

        impl ParseFromJSON for $name {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                let value = value.unwrap_or_default();
                if let Ok(one) = String::parse_from_json(Some(value.clone())) {
                    return Ok(Self::One(one));
                }
                if let Ok(many) = <Vec<String>>::parse_from_json(Some(value.clone())) {
                    return Ok(Self::Many(many));
                }
                Err(ParseError::expected_type(value))
            }
        }

        impl ToJSON for $name {
            fn to_json(&self) -> Option<Value> {
                match self {
                    Self::One(s) => s.to_json(),
                    Self::Many(v) => v.to_json(),
                }
            }
        }
    };
}

string_or_list!(RoleInput, "A role name or a list of them.");
string_or_list!(TeamIdInput, "One team id or a list of them.");
