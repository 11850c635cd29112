//! Error responses shared by many operations, for the OpenAPI document: each type lists the
//! statuses one kind of failure answers with, all carrying an `ApiErrorBody`.

use std::collections::BTreeMap;
use utoipa::openapi::response::Response;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

// One text for both causes: an operation with a path id and a body can answer 400 for either.
const BAD_REQUEST: &str =
    "The request cannot be read: the body is not valid JSON, or the id in the path is not a \
    whole number (bad_request)";

fn responses(list: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, description)| {
            let response = ResponseBuilder::new()
                .description(*description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ApiErrorBody")))
                        .build(),
                )
                .build();
            ((*status).to_owned(), response.into())
        })
        .collect()
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident { $($status:literal => $description:expr),+ $(,)? })*) => {$(
        $(#[$doc])*
        pub enum $name {}

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                responses(&[$(($status, $description)),+])
            }
        }
    )*};
}

error_responses! {
    /// The caller has no valid credentials.
    Unauthenticated {
        "401" => "No valid bearer token or session (unauthenticated)",
    }
    /// The caller may not do this.
    Forbidden {
        "403" => "Not allowed (forbidden): the role does not permit it, or the patient is outside \
            the caller's assignments (such refusals are audited); or a state change made with a \
            session cookie lacked the X-CSRF-Token header (csrf_failed)",
    }
    /// The path names a record that does not exist, or is not an id.
    NotFound {
        "400" => BAD_REQUEST,
        "404" => "No such record (not_found)",
    }
    /// The request body cannot be used.
    BadBody {
        "400" => BAD_REQUEST,
        "413" => "The body is too large (payload_too_large)",
        "415" => "The body is not sent as application/json (unsupported_media_type)",
        "422" => "Fields are missing or invalid (validation_failed); each problem names its field",
    }
    /// A conditional write found the record changed.
    Stale {
        "412" => "If-Match named a version other than the current one: someone changed the \
            record since it was read (precondition_failed); read it again and reapply the change",
    }
    /// An idempotency key whose first request is still being answered.
    KeyInUse {
        "409" => "The first request with this Idempotency-Key is still being answered \
            (conflict; retry shortly), or the key was already used for a different request \
            (idempotency_key_reused; use a new key for a new record)",
        "422" => "The Idempotency-Key is malformed (validation_failed); or fields are missing or \
            invalid",
    }
    /// The query string cannot be used.
    BadQuery {
        "422" => "Parameters are invalid (validation_failed); each problem names its parameter",
    }
}

/// A 201 answer: the new record as JSON, with `Location` naming where it is read (its own URL,
/// or the list it appears in when it has none).
pub struct CreatedAt<T>(pub String, pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for CreatedAt<T> {
    fn into_response(self) -> axum::response::Response {
        (
            axum::http::StatusCode::CREATED,
            [(axum::http::header::LOCATION, self.0)],
            axum::Json(self.1),
        )
            .into_response()
    }
}
