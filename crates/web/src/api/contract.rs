//! What the OpenAPI document says about each operation beyond its handler's annotation, from
//! the `operations!` list: who may call it (the permission constant the handler's grant
//! names, and the roles the permission matrix gives it to) and whether it takes an
//! `Idempotency-Key`.

use serde_json::{json, Value};
use trellis_domain::access::{permits, Permission, Role};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation as OpenApiOperation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayItems, Object, Schema, SchemaType};
use utoipa::openapi::{ObjectBuilder, OpenApi, Ref, RefOr, Required, Type};
use utoipa::{IntoResponses, Modify};

use super::idempotency::{MAX_KEY_LEN, REPLAYED};
use super::responses::KeyInUse;
use crate::error::{ApiError, ApiFieldError};
use axum::http::StatusCode;
use trellis_storage::StoreError;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials.
    Public,
    /// Any signed-in staff member.
    SignedIn,
    /// Roles holding the permission (organisation-wide).
    Role(Permission),
    /// Roles holding the permission, for a patient within the caller's assignments (the
    /// record in the path belongs to one patient).
    Patient(Permission),
    /// The task's assignee, or a clinical director.
    TaskAssignee,
    /// The note's author (or, for co-signature, the supervisor it awaits).
    NoteAuthor,
}

impl Access {
    /// The permission the handler's grant names, if any.
    pub fn permission(self) -> Option<Permission> {
        match self {
            Access::Role(p) | Access::Patient(p) => Some(p),
            _ => None,
        }
    }

    /// The scope the permission is checked in, as the document names it.
    pub fn scope(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::SignedIn => "signed_in",
            Access::Role(_) => "organisation",
            Access::Patient(_) => "patient",
            Access::TaskAssignee => "task_assignee",
            Access::NoteAuthor => "note_author",
        }
    }

    fn sentence(self) -> String {
        let roles = |p: Permission| {
            Role::ALL
                .iter()
                .filter(|r| permits(**r, p))
                .map(|r| r.code())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Access::Public => "**Who:** anyone; no credentials needed.".into(),
            Access::SignedIn => "**Who:** any signed-in staff member.".into(),
            Access::Role(p) => format!(
                "**Who:** the `{}` permission (roles: {}).",
                code(p),
                roles(p)
            ),
            Access::Patient(p) => format!(
                "**Who:** the `{}` permission (roles: {}), for a patient within the caller's \
                 assignments.",
                code(p),
                roles(p)
            ),
            Access::TaskAssignee => {
                "**Who:** the staff member the task is assigned to, or a clinical director.".into()
            }
            Access::NoteAuthor => {
                "**Who:** the note's author (co-signature: the supervisor it awaits).".into()
            }
        }
    }
}

/// A permission's code, as `x-permission` and the role matrix name it.
pub fn code(p: Permission) -> String {
    match serde_json::to_value(p) {
        Ok(Value::String(s)) => s,
        _ => format!("{p:?}"),
    }
}

/// One operation of the API.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// Lower-case HTTP method.
    pub method: &'static str,
    /// Path below /api/v1.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Whether a retry with the same `Idempotency-Key` answers the first result.
    pub idempotent: bool,
}

/// Writes each operation's access rule (`x-permission`, and a sentence in its description) and,
/// on idempotent ones, the `Idempotency-Key` header and its answers; and states that required
/// text in request bodies may not be blank.
pub struct Contract;

/// What every required free-text field of a request body must match: the handlers trim text
/// and refuse it when nothing is left.
const NOT_BLANK: &str = "\\S";

impl Modify for Contract {
    fn modify(&self, openapi: &mut OpenApi) {
        require_text(openapi);
        if let Some(components) = openapi.components.as_mut() {
            for (name, rule) in super::BODY_RULES {
                if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*name) {
                    rule(object);
                }
            }
        }
        for op in super::OPERATIONS {
            let Some(item) = openapi.paths.paths.get_mut(op.path) else {
                continue;
            };
            let operation = match op.method {
                "get" => item.get.as_mut(),
                "post" => item.post.as_mut(),
                "put" => item.put.as_mut(),
                _ => None,
            };
            let Some(operation) = operation else {
                continue;
            };
            describe_access(operation, op.access);
            if op.idempotent {
                describe_idempotency(operation);
            }
        }
    }
}

/// Adds [`NOT_BLANK`] to each required string property (no enum, format or pattern of its own)
/// of the schemas sent as request bodies.
fn require_text(openapi: &mut OpenApi) {
    let mut sent = Vec::new();
    for item in openapi.paths.paths.values() {
        for operation in [&item.post, &item.put].into_iter().flatten() {
            let bodies = operation
                .request_body
                .iter()
                .flat_map(|b| b.content.values());
            for content in bodies {
                let name = match &content.schema {
                    Some(RefOr::Ref(r)) => r.ref_location.rsplit('/').next(),
                    Some(RefOr::T(Schema::Array(array))) => match &array.items {
                        ArrayItems::RefOrSchema(item) => match item.as_ref() {
                            RefOr::Ref(r) => r.ref_location.rsplit('/').next(),
                            RefOr::T(_) => None,
                        },
                        ArrayItems::False => None,
                    },
                    _ => None,
                };
                sent.extend(name.map(str::to_owned));
            }
        }
    }
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    for name in sent {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(&name) else {
            continue;
        };
        for field in &object.required {
            let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(field) else {
                continue;
            };
            if property.schema_type == SchemaType::Type(Type::String)
                && property.enum_values.is_none()
                && property.format.is_none()
                && property.pattern.is_none()
            {
                property.pattern = Some(NOT_BLANK.to_owned());
            }
        }
    }
}

fn describe_access(operation: &mut OpenApiOperation, access: Access) {
    let sentence = access.sentence();
    operation.description = Some(match operation.description.take() {
        Some(d) if !d.is_empty() => format!("{d}\n\n{sentence}"),
        _ => sentence,
    });
    let roles: Vec<&str> = match access.permission() {
        Some(p) => Role::ALL
            .iter()
            .filter(|r| permits(**r, p))
            .map(|r| r.code())
            .collect(),
        None => Vec::new(),
    };
    let value = json!({
        "permission": access.permission().map(code),
        "scope": access.scope(),
        "roles": roles,
    });
    operation
        .extensions
        .get_or_insert_with(Extensions::default)
        .insert("x-permission".into(), value);
}

fn describe_idempotency(operation: &mut OpenApiOperation) {
    let key = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "A key of the client's own (e.g. a UUID) making a retry safe: the same key and \
             body answer the first result again (marked `Idempotent-Replayed: true`), never \
             recording twice; the same key with another body or record is refused",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_KEY_LEN))
                .pattern(Some("^[!-~]+$")),
        ))
        .build();
    operation.parameters.get_or_insert_with(Vec::new).push(key);
    let replayed = HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["true"])),
        )
        .description(Some(
            "`true` when this is the first answer again, for a retried Idempotency-Key",
        ))
        .build();
    for (status, response) in operation.responses.responses.iter_mut() {
        if status.starts_with('2') {
            if let RefOr::T(response) = response {
                response
                    .headers
                    .insert(REPLAYED.as_str().to_owned(), replayed.clone());
            }
        }
    }
    for (status, added) in KeyInUse::responses() {
        match operation.responses.responses.get_mut(&status) {
            Some(RefOr::T(existing)) => merge(existing, added),
            _ => {
                operation.responses.responses.insert(status, added);
            }
        }
    }
}

/// Folds a key refusal into an answer the operation already documents for the same status:
/// the key's wording where both are plain errors, else either body (e.g. a possible duplicate
/// or an error; `anyOf`, as a body may look like both).
fn merge(existing: &mut Response, added: RefOr<Response>) {
    let RefOr::T(added) = added else {
        return;
    };
    let error = RefOr::Ref(Ref::from_schema_name("ApiErrorBody"));
    let mut plain = true;
    for content in existing.content.values_mut() {
        match content.schema.take() {
            Some(schema) if schema != error => {
                plain = false;
                content.schema = Some(RefOr::T(Schema::AnyOf(
                    AnyOfBuilder::new().item(schema).item(error.clone()).build(),
                )));
            }
            schema => content.schema = schema,
        }
    }
    existing.description = if plain {
        added.description
    } else {
        format!("{}; or {}", existing.description, added.description)
    };
}

/// A rule between the fields of a request body, added to its schema by name.
pub type BodyRule = (&'static str, fn(&mut Object));

/// States in a body's schema that when `condition` holds, `then` must too (JSON Schema
/// `if`/`then` under `allOf`). utoipa has no field for these keywords; its extension map is
/// written flat into the schema object, so they come out as plain JSON Schema.
pub fn when(object: &mut Object, condition: Value, then: Value) {
    let rules = object
        .extensions
        .get_or_insert_with(Extensions::default)
        .entry("allOf".to_owned())
        .or_insert_with(|| json!([]));
    if let Value::Array(rules) = rules {
        rules.push(json!({ "if": condition, "then": then }));
    }
}

/// Input refused because of what is stored, not how it is written (more minutes than the stored
/// session lasts, a patient not enrolled that day): no schema can know the record, so the API
/// answers 409 `conflict`, naming the fields, for refusals of `fields` only; others pass as they are.
pub fn against_record(fields: &'static [&'static str]) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::Invalid(errors)
            if !errors.is_empty() && errors.iter().all(|f| fields.contains(&f.field)) =>
        {
            let message = errors
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ");
            ApiError::Request {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message,
                fields: errors.iter().map(ApiFieldError::from).collect(),
            }
        }
        other => other.into(),
    }
}
