//! Limit/offset paging of the list operations: the page is taken from the full list in its
//! stated order, and `X-Total-Count` says how long the full list is.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use trellis_domain::patient::FieldError;

use super::extract::ApiQuery;
use crate::error::{ApiError, AppError};

/// Page size when the caller names none.
pub const DEFAULT_PAGE: usize = 100;
/// The largest page a list operation answers.
pub const MAX_PAGE: usize = 500;

/// The header carrying the length of the whole list.
pub const TOTAL_COUNT: HeaderName = HeaderName::from_static("x-total-count");

/// Which page of a list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Entries to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// A checked page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    limit: usize,
    offset: usize,
}

impl Paging {
    /// Checks a page request; out-of-range values are errors naming the parameter.
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Paging, Vec<FieldError>> {
        let mut errors = Vec::new();
        let limit = match limit {
            None => DEFAULT_PAGE,
            Some(l) => match usize::try_from(l) {
                Ok(l) if (1..=MAX_PAGE).contains(&l) => l,
                _ => {
                    errors.push(FieldError::new(
                        "limit",
                        format!("must be between 1 and {MAX_PAGE}"),
                    ));
                    0
                }
            },
        };
        let offset = match offset.map(usize::try_from) {
            None => 0,
            Some(Ok(o)) => o,
            Some(Err(_)) => {
                errors.push(FieldError::new("offset", "must be 0 or more"));
                0
            }
        };
        if errors.is_empty() {
            Ok(Paging { limit, offset })
        } else {
            Err(errors)
        }
    }

    /// The page of `all`, which is in the list's stated order.
    pub fn page<T>(self, all: Vec<T>) -> Paged<T> {
        let total = all.len();
        let items = all.into_iter().skip(self.offset).take(self.limit).collect();
        Paged { items, total }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ApiQuery(q) = ApiQuery::<PageQuery>::from_request_parts(parts, state).await?;
        Paging::new(q.limit, q.offset).map_err(|e| AppError::Invalid(e).into())
    }
}

/// One page of a list, answered as a JSON array with the whole list's length in
/// `X-Total-Count`.
#[derive(Debug)]
pub struct Paged<T> {
    items: Vec<T>,
    total: usize,
}

impl<T: Serialize> IntoResponse for Paged<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.items).into_response();
        response
            .headers_mut()
            .insert(TOTAL_COUNT, HeaderValue::from(self.total));
        response
    }
}

/// Documents the 422 a bad `limit` or `offset` answers on every operation that takes them.
pub struct PagingRefusals;

impl utoipa::Modify for PagingRefusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::IntoResponses;
        let refusals = super::responses::BadQuery::responses();
        for item in openapi.paths.paths.values_mut() {
            let Some(get) = item.get.as_mut() else {
                continue;
            };
            let paged = get.parameters.iter().flatten().any(|p| p.name == "limit");
            if paged {
                for (status, response) in &refusals {
                    get.responses
                        .responses
                        .entry(status.clone())
                        .or_insert_with(|| response.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded_and_count_the_whole_list() {
        let page = Paging::new(Some(2), Some(1))
            .expect("valid")
            .page(vec![1, 2, 3, 4]);
        assert_eq!((page.items, page.total), (vec![2, 3], 4));
        let past_the_end = Paging::new(None, Some(10)).expect("valid").page(vec![1]);
        assert_eq!((past_the_end.items, past_the_end.total), (vec![], 1));
        let default = Paging::new(None, None).expect("valid");
        assert_eq!(default.page(vec![0; 150]).items.len(), DEFAULT_PAGE);
    }

    #[test]
    fn out_of_range_requests_name_the_parameter() {
        for (limit, offset, field) in [
            (Some(0), None, "limit"),
            (Some(501), None, "limit"),
            (Some(-1), None, "limit"),
            (None, Some(-1), "offset"),
        ] {
            let errors = Paging::new(limit, offset).expect_err("refused");
            assert_eq!(errors[0].field, field);
        }
        assert!(Paging::new(Some(500), Some(0)).is_ok());
    }
}
