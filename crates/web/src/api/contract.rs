//! What the OpenAPI document says about each operation beyond its handler's annotation, from
//! the `operations!` list: who may call it (the permission constant the handler's grant
//! names, and the roles the permission matrix gives it to) and whether it takes an
//! `Idempotency-Key`.

use serde_json::{json, Value};
use trellis_domain::access::{permits, Permission, Role};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation as OpenApiOperation, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, OpenApi, RefOr, Required, Type};
use utoipa::{IntoResponses, Modify};

use super::idempotency::{MAX_KEY_LEN, REPLAYED};
use super::responses::KeyInUse;

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
/// on idempotent ones, the `Idempotency-Key` header and its answers.
pub struct Contract;

impl Modify for Contract {
    fn modify(&self, openapi: &mut OpenApi) {
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
    for (status, response) in KeyInUse::responses() {
        operation.responses.responses.insert(status, response);
    }
}
