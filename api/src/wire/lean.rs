//! Lean answers for the large reads: a JSON body serialised with serde straight from the value,
//! documented with the value's own poem-openapi schema. poem-openapi's `Json` first builds a
//! `serde_json::Value` tree (`ToJSON`) and then writes that; for a page of members or a full
//! organization the tree was the largest single cost of the answer. The value's `Serialize`
//! must write exactly what its `ToJSON` would, keys in the same (sorted) order: the tests at the
//! end of each type's module compare the two byte for byte.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;

/// A 200 JSON answer written with `T`'s `Serialize`, documented as `T`'s schema.
pub struct Lean<T>(pub T);

impl<T: Type> Payload for Lean<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        <poem_openapi::payload::Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for Lean<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .content_type("application/json; charset=utf-8")
                .body(body),
            // Never the serialiser's text: the contract's shape is the API's to give.
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

/// Implements `Serialize` for `$ty` as one JSON object of the entries given, in that order, which
/// must be poem-openapi's: sorted by key (its `ToJSON` fills a `serde_json::Map`, a `BTreeMap`),
/// flattened fields merged in.
macro_rules! lean_object {
    ($ty:ty, |$this:ident| { $($key:literal : $value:expr),+ $(,)? }) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let $this = self;
                let len = [$($key),+].len();
                let mut object = serializer.serialize_struct(stringify!($ty), len)?;
                $(object.serialize_field($key, $value)?;)+
                object.end()
            }
        }
    };
}

pub(crate) use lean_object;

/// Implements `Serialize` for a newtype over a string, written as the string.
macro_rules! lean_string {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}

pub(crate) use lean_string;

/// Whether `value` serialises with serde to the very bytes poem-openapi's `ToJSON` gives.
#[cfg(test)]
pub(crate) fn same_as_to_json<T: Serialize + poem_openapi::types::ToJSON>(value: &T) -> bool {
    let lean = serde_json::to_string(value).expect("serialises");
    let tree = serde_json::to_string(&value.to_json()).expect("serialises");
    if lean != tree {
        eprintln!("serde:   {lean}\nToJSON: {tree}");
    }
    lean == tree
}
