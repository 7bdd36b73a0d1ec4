//! What the contract's wire shapes need beyond poem-openapi's own types: [`Nullable`] (always
//! sent, may be `null`), [`Checked`] (a required query parameter the handler checks itself),
//! [`Count`] (a bounded count or offset in a query), [`JsonObject`] (an object of any shape),
//! [`Record`] (a body Better Auth reads as a record), [`Refined`] (a body read under a rule of
//! its own), [`Body`] (a request body read as strictly as it is documented), [`OptionalJson`] (a
//! body that may be absent),
//! `string_enum!` (a string documented as one of a few values) and `success!`, which declares an
//! operation's success response ([`Lean`] for the large reads, written without a JSON tree).

use std::borrow::Cow;
use std::marker::PhantomData;

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::error::{ContentTypeError, ParseRequestPayloadError};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::Value;

/// A value the contract always sends, as `null` when there is none: a required, nullable
/// property (poem-openapi documents an `Option` as optional and not nullable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nullable<T>(pub Option<T>);

impl<T> From<Option<T>> for Nullable<T> {
    fn from(value: Option<T>) -> Self {
        Self(value)
    }
}

impl<T: Type> Type for Nullable<T> {
    const IS_REQUIRED: bool = true;

    type RawValueType = T::RawValueType;

    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        format!("nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        let schema = match T::schema_ref() {
            MetaSchemaRef::Inline(schema) => MetaSchema {
                nullable: true,
                ..*schema
            },
            // OpenAPI 3.0 wants a `type` beside `nullable`; what `Nullable` wraps by reference is
            // always an `Object`.
            reference => MetaSchema {
                all_of: vec![reference],
                nullable: true,
                ..MetaSchema::new("object")
            },
        };
        MetaSchemaRef::Inline(Box::new(schema))
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Some(value) => value.raw_element_iter(),
            None => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Nullable<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Self(None)),
            value => T::parse_from_json(value)
                .map(|v| Self(Some(v)))
                .map_err(ParseError::propagate),
        }
    }
}

/// As its `ToJSON`: the value, or `null`.
impl<T: serde::Serialize> serde::Serialize for Nullable<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<T: ToJSON> ToJSON for Nullable<T> {
    fn to_json(&self) -> Option<Value> {
        Some(
            self.0
                .as_ref()
                .and_then(ToJSON::to_json)
                .unwrap_or(Value::Null),
        )
    }
}

/// A query parameter documented as required, whose absence the handler answers itself with the
/// contract's 400 (poem-openapi's own would differ).
#[derive(Debug, Clone)]
pub struct Checked<T>(pub Option<T>);

impl<T: Type> Type for Checked<T> {
    const IS_REQUIRED: bool = true;

    type RawValueType = T::RawValueType;

    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Some(value) => value.raw_element_iter(),
            None => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ParseFromParameter> ParseFromParameter for Checked<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        T::parse_from_parameter(value)
            .map(|v| Self(Some(v)))
            .map_err(ParseError::propagate)
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(
        iter: I,
    ) -> ParseResult<Self> {
        let mut iter = iter.into_iter().peekable();
        if iter.peek().is_none() {
            return Ok(Self(None));
        }
        T::parse_from_parameters(iter)
            .map(|v| Self(Some(v)))
            .map_err(ParseError::propagate)
    }
}

/// The largest count or offset a query accepts: it fits a 32-bit signed integer, so every
/// database's integer types and JavaScript's safe integers.
pub const MAX_COUNT: u32 = i32::MAX as u32;

/// A count or an offset in a query string (`limit`, `offset`, `membersLimit`): a whole number from 0
/// to [`MAX_COUNT`]. Anything else is refused before the handler runs, as the contract's 400
/// `VALIDATION_ERROR` (`[query.<name>] <reason>`), so no number reaches the database that its
/// integers cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u32);

impl Count {
    pub fn get(self) -> u64 {
        u64::from(self.0)
    }
}

impl Type for Count {
    const IS_REQUIRED: bool = true;

    type RawValueType = u32;

    type RawElementValueType = u32;

    fn name() -> Cow<'static, str> {
        "count".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            minimum: Some(0.0),
            maximum: Some(f64::from(MAX_COUNT)),
            ..MetaSchema::new_with_format("integer", "int32")
        }))
    }

    fn as_raw_value(&self) -> Option<&u32> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a u32> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl ParseFromParameter for Count {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        // Digits only: no sign, no fraction, no exponent, no whitespace.
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::custom(format_args!(
                "Invalid input: expected a whole number from 0 to {MAX_COUNT}"
            )));
        }
        match value.parse::<u32>() {
            Ok(n) if n <= MAX_COUNT => Ok(Self(n)),
            // Too many digits for a u32 is too big as well.
            _ => Err(ParseError::custom(format_args!(
                "Too big: expected number to be <={MAX_COUNT}"
            ))),
        }
    }
}

/// The reason a query parameter was refused, without poem-openapi's `failed to parse "<type>": `
/// prefix and ` (occurred while parsing "<type>")` suffixes (type names mean nothing to a client).
pub fn param_reason(reason: &str) -> &str {
    let mut reason = reason
        .strip_prefix("failed to parse \"")
        .and_then(|rest| rest.split_once("\": "))
        .map_or(reason, |(_, reason)| reason);
    while let Some(rest) = reason
        .strip_suffix("\")")
        .and_then(|r| r.rsplit_once(" (occurred while parsing \""))
        .map(|(rest, _)| rest)
    {
        reason = rest;
    }
    reason
}

/// A JSON object of any shape (organization metadata, a provider's own answer), documented as a
/// free-form object. Any JSON value is read; where only objects are accepted, the handler refuses
/// the others with the contract's message.
#[derive(Debug, Clone)]
pub struct JsonObject(pub Value);

impl Type for JsonObject {
    const IS_REQUIRED: bool = true;

    type RawValueType = Value;

    type RawElementValueType = Value;

    fn name() -> Cow<'static, str> {
        "object".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            additional_properties: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema::ANY)))),
            ..MetaSchema::new("object")
        }))
    }

    fn as_raw_value(&self) -> Option<&Value> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Value> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

/// JavaScript's truthiness, which decides whether Better Auth looks at a body value at all.
pub fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// zod's name for a JSON value's type, as Better Auth's validation messages say it
/// (`expected object, received array`).
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A rule a body checks as it is read, before the handler and its caller (as zod's schema is
/// checked before Better Auth's session middleware). A refusal is the contract's 400
/// `VALIDATION_ERROR` with zod's words (`[body] Invalid input`).
pub trait Rule<T>: Send + Sync + 'static {
    /// Refuses the value before it is read as `T`.
    fn check_value(_value: Option<&Value>) -> Result<(), String> {
        Ok(())
    }

    /// Refuses what was read.
    fn check(_read: &T) -> Result<(), String> {
        Ok(())
    }
}

/// `T`, read as `R` demands; documented as `T`.
pub struct Refined<T, R>(pub T, PhantomData<R>);

impl<T: std::fmt::Debug, R> std::fmt::Debug for Refined<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A body Better Auth validates as a record of any fields (`update-user`, `update-session`), read
/// as `T`. Anything but an object is refused with zod's message for a record.
pub type Record<T> = Refined<T, IsRecord>;

/// See [`Record`].
pub struct IsRecord;

impl<T> Rule<T> for IsRecord {
    fn check_value(value: Option<&Value>) -> Result<(), String> {
        match value {
            Some(Value::Object(_)) => Ok(()),
            other => Err(format!(
                "Invalid input: expected record, received {}",
                other.map_or("undefined", json_type)
            )),
        }
    }
}

impl<T: Type, R: Rule<T>> Type for Refined<T, R> {
    const IS_REQUIRED: bool = true;

    type RawValueType = T::RawValueType;

    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_raw_value()
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        self.0.raw_element_iter()
    }
}

impl<T: ParseFromJSON, R: Rule<T>> ParseFromJSON for Refined<T, R> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        R::check_value(value.as_ref()).map_err(ParseError::custom)?;
        let read = T::parse_from_json(value).map_err(ParseError::propagate)?;
        R::check(&read).map_err(ParseError::custom)?;
        Ok(Self(read, PhantomData))
    }
}

impl<T: ToJSON, R: Rule<T>> ToJSON for Refined<T, R> {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

/// A JSON body that may be left out (`sign-out`): no body reads as `None`. A body that is there
/// must be JSON (else 415, as every body) and an object, checked before the handler runs.
pub struct OptionalJson<T>(pub Option<T>);

impl<'a, T: ParseFromJSON> ApiExtractor<'a> for OptionalJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json; charset=utf-8",
                schema: T::schema_ref(),
            }],
            required: false,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _: ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        let bytes = <Vec<u8> as FromRequest>::from_request(request, body).await?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        let content_type = request
            .content_type()
            .ok_or(ContentTypeError::ExpectContentType)?;
        if !<Json<T> as Payload>::check_content_type(content_type) {
            return Err(ContentTypeError::NotSupported {
                content_type: content_type.to_owned(),
            }
            .into());
        }
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| ParseRequestPayloadError {
                reason: e.to_string(),
            })?;
        if !value.is_object() {
            return Err(ParseRequestPayloadError {
                reason: format!(
                    "Invalid input: expected object, received {}",
                    json_type(&value)
                ),
            }
            .into());
        }
        body::parse(value).map(|v| Self(Some(v)))
    }
}

impl ParseFromJSON for JsonObject {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Self(value.unwrap_or_default()))
    }
}

impl ToJSON for JsonObject {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone())
    }
}

/// Declares `$name`, a string documented as one of the `$value`s. Any string is read and written
/// as it is: where others are refused, the handler or the service does it, with the contract's 400.
macro_rules! string_enum {
    ($(#[doc = $doc:literal])+ $vis:vis $name:ident: $($value:literal)|+) => {
        $(#[doc = $doc])+
        #[derive(Debug, Clone, PartialEq, Eq)]
        $vis struct $name(pub String);

        impl poem_openapi::types::Type for $name {
            const IS_REQUIRED: bool = true;

            type RawValueType = String;

            type RawElementValueType = String;

            fn name() -> std::borrow::Cow<'static, str> {
                "string".into()
            }

            fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
                poem_openapi::registry::MetaSchemaRef::Inline(Box::new(
                    poem_openapi::registry::MetaSchema {
                        enum_items: vec![$($value.into()),+],
                        ..poem_openapi::registry::MetaSchema::new("string")
                    },
                ))
            }

            fn as_raw_value(&self) -> Option<&String> {
                Some(&self.0)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
                Box::new(std::iter::once(&self.0))
            }
        }

        impl poem_openapi::types::ParseFromParameter for $name {
            fn parse_from_parameter(value: &str) -> poem_openapi::types::ParseResult<Self> {
                Ok(Self(value.to_owned()))
            }
        }

        impl poem_openapi::types::ParseFromJSON for $name {
            fn parse_from_json(
                value: Option<serde_json::Value>,
            ) -> poem_openapi::types::ParseResult<Self> {
                <String as poem_openapi::types::ParseFromJSON>::parse_from_json(value)
                    .map(Self)
                    .map_err(poem_openapi::types::ParseError::propagate)
            }
        }

        impl poem_openapi::types::ToJSON for $name {
            fn to_json(&self) -> Option<serde_json::Value> {
                Some(serde_json::Value::String(self.0.clone()))
            }
        }

        $crate::wire::lean_string!($name);
    };
}

pub(crate) use string_enum;

/// Declares an operation's success response: an `ApiResponse` answering 200 with `Json<$body>`,
/// described by the doc comment, and `From<$body>`. `+ session` adds the optional
/// `set-auth-token` header, which a route that reads the session sends when it renews it (and
/// sign-in, sign-up and change-password when they open one); `+ session + lean` also writes the
/// body with serde directly ([`Lean`]).
macro_rules! success {
    ($(#[doc = $doc:literal])+ $vis:vis $name:ident($body:ty)) => {
        #[derive(poem_openapi::ApiResponse)]
        $vis enum $name {
            $(#[doc = $doc])+
            #[oai(status = 200)]
            Ok(poem_openapi::payload::Json<$body>),
        }
        $crate::wire::success!(@from $name($body));
    };
    ($(#[doc = $doc:literal])+ $vis:vis $name:ident($body:ty) + session) => {
        $crate::wire::success!(@session $(#[doc = $doc])+ $vis $name($body)
            poem_openapi::payload::Json<$body>, poem_openapi::payload::Json);
    };
    ($(#[doc = $doc:literal])+ $vis:vis $name:ident($body:ty) + session + lean) => {
        $crate::wire::success!(@session $(#[doc = $doc])+ $vis $name($body)
            $crate::wire::Lean<$body>, $crate::wire::Lean);
    };
    (@session $(#[doc = $doc:literal])+ $vis:vis $name:ident($body:ty) $payload:ty, $wrap:path) => {
        #[derive(poem_openapi::ApiResponse)]
        $vis enum $name {
            $(#[doc = $doc])+
            #[oai(
                status = 200,
                header(
                    name = "set-auth-token",
                    ty = "Option<String>",
                    description = "The session's signed token (`token.signature`) for \
                                   `Authorization: Bearer`; sent when this call opened or renewed \
                                   the session."
                )
            )]
            Ok($payload),
        }
        impl From<$body> for $name {
            fn from(body: $body) -> Self {
                Self::Ok($wrap(body))
            }
        }
    };
    (@from $name:ident($body:ty)) => {
        impl From<$body> for $name {
            fn from(body: $body) -> Self {
                Self::Ok(poem_openapi::payload::Json(body))
            }
        }
    };
}

pub(crate) use success;

mod body;
mod lean;
#[cfg(test)]
mod props;

pub use body::Body;
#[cfg(test)]
pub(crate) use lean::same_as_to_json;
pub use lean::Lean;
pub(crate) use lean::{lean_object, lean_string};
