//! Request bodies read as strictly as the document describes them, and as zod reads them.
//!
//! poem-openapi's `Json<T>` reads a JSON number or boolean where a string is documented (as its
//! text), and `null` where an optional property is documented as not nullable (as absent). Better
//! Auth's zod schemas refuse both with 400 `VALIDATION_ERROR`, and a client told by the document
//! that `slug` is a string should not find `false` stored as `"false"`. [`Body`] checks the value
//! against the schema `T` documents before `T` reads it.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use poem::{FromRequest, IntoResponse, Request, RequestBody};
use poem_openapi::error::ParseRequestPayloadError;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::ParseFromJSON;
use serde_json::Value;

use super::json_type;
use crate::error::{ApiError, ErrorBody};

/// A JSON request body of type `T`, checked against `T`'s documented schema first (see the
/// module). Documented exactly as poem-openapi's `Json<T>`.
pub struct Body<T>(pub T);

impl<T> std::ops::Deref for Body<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ParseFromJSON> Payload for Body<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        <Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON> ParsePayload for Body<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = Vec::<u8>::from_request(request, body).await?;
        if bytes.is_empty() {
            return T::parse_from_json(Some(Value::Null))
                .map(Self)
                .map_err(|e| reading_error(e.into_message()));
        }
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| reading_error(e.to_string()))?;
        // `null` is not a way to leave an optional body out (zod's `.optional()` refuses it); a
        // required body's own rule words the refusal.
        if value.is_null() && !T::IS_REQUIRED {
            return Err(refused(
                "[body] Invalid input: expected object, received null",
            ));
        }
        parse::<T>(value).map(Self)
    }
}

poem_openapi::impl_apirequest_for_payload!(Body<T>, T: ParseFromJSON);

/// Reads `value` as `T` once it conforms to `T`'s schema. Only the properties of an object body
/// are checked here; what the body itself is (absent, not an object) `T` answers as before.
pub fn parse<T: ParseFromJSON>(value: Value) -> poem::Result<T> {
    if value.is_object() {
        let registry = registry_of::<T>();
        conforms(&value, &T::schema_ref(), &registry, "body").map_err(|m| refused(&m))?;
    }
    T::parse_from_json(Some(value)).map_err(|e| reading_error(e.into_message()))
}

/// What `T` or serde_json said; `error::with_contract_fallbacks` words it as the contract does.
fn reading_error(reason: String) -> poem::Error {
    ParseRequestPayloadError { reason }.into()
}

/// The contract's 400 `VALIDATION_ERROR` with zod's message.
fn refused(message: &str) -> poem::Error {
    poem::Error::from_response(
        ApiError::BadRequest(Json(ErrorBody::new("VALIDATION_ERROR", message))).into_response(),
    )
}

/// The schemas `T` refers to, built once per type.
fn registry_of<T: ParseFromJSON>() -> Arc<Registry> {
    static CACHE: OnceLock<RwLock<HashMap<String, Arc<Registry>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let name = T::name().into_owned();
    if let Some(registry) = cache.read().unwrap_or_else(|e| e.into_inner()).get(&name) {
        return registry.clone();
    }
    let mut registry = Registry::new();
    T::register(&mut registry);
    let registry = Arc::new(registry);
    cache
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name, registry.clone());
    registry
}

/// Whether `value` has the JSON type `schema` documents, properties and items included; the
/// refusal is zod's message for it (`[body.slug] Invalid input: expected string, received
/// boolean`). Length, format and enumerations are left to `T`'s own validators and the handler.
fn conforms(
    value: &Value,
    schema: &MetaSchemaRef,
    registry: &Registry,
    path: &str,
) -> Result<(), String> {
    let Some(schema) = resolve(schema, registry) else {
        return Ok(());
    };
    // A union or an unconstrained value accepts what its parts accept; `T` decides.
    if !schema.any_of.is_empty() || !schema.one_of.is_empty() {
        return Ok(());
    }
    if value.is_null() {
        return match schema.nullable || !is_json_type(schema.ty) {
            true => Ok(()),
            false => Err(refusal(path, schema.ty, value)),
        };
    }
    for part in &schema.all_of {
        conforms(value, part, registry, path)?;
    }
    let matches = match schema.ty {
        "string" => value.is_string(),
        "integer" | "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !matches {
        return Err(refusal(path, schema.ty, value));
    }
    match value {
        Value::Object(fields) => {
            for (name, property) in &schema.properties {
                if let Some(field) = fields.get(*name) {
                    conforms(field, property, registry, &format!("{path}.{name}"))?;
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for (i, item) in items.iter().enumerate() {
                    conforms(item, item_schema, registry, &format!("{path}.{i}"))?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn resolve<'a>(schema: &'a MetaSchemaRef, registry: &'a Registry) -> Option<&'a MetaSchema> {
    match schema {
        MetaSchemaRef::Inline(schema) => Some(schema),
        MetaSchemaRef::Reference(name) => registry.schemas.get(name),
    }
}

fn is_json_type(ty: &str) -> bool {
    matches!(
        ty,
        "string" | "integer" | "number" | "boolean" | "array" | "object"
    )
}

fn refusal(path: &str, ty: &str, value: &Value) -> String {
    // zod calls every JSON number a number.
    let expected = if ty == "integer" { "number" } else { ty };
    format!(
        "[{path}] Invalid input: expected {expected}, received {}",
        json_type(value)
    )
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::Type;
    use poem_openapi::Object;
    use serde_json::json;

    use super::*;
    use crate::wire::Nullable;

    #[derive(Debug, Object)]
    struct Inner {
        role: String,
    }

    #[derive(Debug, Object)]
    struct Outer {
        name: String,
        slug: Option<String>,
        limit: Option<u32>,
        keep: Option<bool>,
        image: Nullable<String>,
        ids: Option<Vec<String>>,
        inner: Option<Inner>,
    }

    fn refusal_of(body: Value) -> Option<String> {
        let registry = registry_of::<Outer>();
        conforms(&body, &Outer::schema_ref(), &registry, "body").err()
    }

    #[test]
    fn documented_types_are_accepted() {
        let body = json!({"name": "a", "slug": "b", "limit": 3, "keep": true, "image": null,
                          "ids": ["x"], "inner": {"role": "member"}, "unknown": 5});
        assert_eq!(refusal_of(body), None);
    }

    #[test]
    fn numbers_and_booleans_are_not_strings() {
        assert_eq!(
            refusal_of(json!({"name": "a", "slug": false})).as_deref(),
            Some("[body.slug] Invalid input: expected string, received boolean")
        );
        assert_eq!(
            refusal_of(json!({"name": 12})).as_deref(),
            Some("[body.name] Invalid input: expected string, received number")
        );
        assert_eq!(
            refusal_of(json!({"name": "a", "limit": "3"})).as_deref(),
            Some("[body.limit] Invalid input: expected number, received string")
        );
    }

    #[test]
    fn null_is_refused_unless_documented_nullable() {
        assert_eq!(
            refusal_of(json!({"name": "a", "slug": null})).as_deref(),
            Some("[body.slug] Invalid input: expected string, received null")
        );
        assert_eq!(refusal_of(json!({"name": "a", "image": null})), None);
    }

    #[test]
    fn items_and_nested_objects_are_checked() {
        assert_eq!(
            refusal_of(json!({"name": "a", "ids": ["x", 1]})).as_deref(),
            Some("[body.ids.1] Invalid input: expected string, received number")
        );
        assert_eq!(
            refusal_of(json!({"name": "a", "inner": {"role": true}})).as_deref(),
            Some("[body.inner.role] Invalid input: expected string, received boolean")
        );
    }
}
