//! The HTTP front end's one error type, [`ApiError`]: a status, a stable
//! machine-readable `code`, a message for people and optional `details`,
//! sent as the JSON body `{code, message, details}`.
//!
//! Engine and SQL errors map to statuses with exhaustive matches, so a new
//! error kind does not compile until it has an HTTP meaning; the SQLSTATE
//! always travels in `details.sqlstate`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use memdb_engine::Error as EngineError;
use memdb_sql::SqlError;
use serde::Serialize;
use serde_json::{Value as Json, json};

/// An error answer of the REST API.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable snake_case name of the kind of error.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// Structured context: the SQLSTATE, the field at fault, ….
    pub details: Json,
}

/// The JSON body of an error, as documented in the OpenAPI document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable snake_case name of the kind of error (`not_found`,
    /// `unique_violation`, `validation_failed`, …).
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// Structured context (`sqlstate`, `field`, `index`, …); `null` when none.
    pub details: Json,
}

/// The REST API's result type.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), details: Json::Null }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: Json) -> ApiError {
        self.details = details;
        self
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404: the table, record or key does not exist.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422: a field's value does not fit the table's schema.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message)
            .with_details(json!({ "field": field }))
    }

    /// 500: a failure that is memdb's, not the client's.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// Records which element of a batch failed.
    pub fn at_index(mut self, index: usize) -> ApiError {
        match &mut self.details {
            Json::Object(map) => {
                map.insert("index".into(), json!(index));
            }
            other => *other = json!({ "index": index }),
        }
        self.message = format!("record {index}: {}", self.message);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            // The request's own line (with its id) follows from the
            // timing middleware.
            tracing::warn!(status = self.status.as_u16(), code = self.code, "{}", self.message);
        }
        let body = ErrorBody { code: self.code.to_owned(), message: self.message, details: self.details };
        (self.status, axum::Json(body)).into_response()
    }
}

/// The status and code of an engine error.
fn engine_kind(e: &EngineError) -> (StatusCode, &'static str) {
    use StatusCode as S;
    match e {
        EngineError::SerializationFailure(_) => (S::CONFLICT, "serialization_failure"),
        EngineError::Deadlock(_) => (S::CONFLICT, "deadlock_detected"),
        EngineError::LockNotAvailable(_) | EngineError::LockTimeout => (S::CONFLICT, "lock_not_available"),
        EngineError::ReadOnly(_) => (S::FORBIDDEN, "read_only"),
        EngineError::TxnNotActive => (S::CONFLICT, "transaction_not_active"),
        EngineError::NoSuchSavepoint(_) => (S::BAD_REQUEST, "no_such_savepoint"),
        EngineError::UndefinedTable(_) => (S::NOT_FOUND, "undefined_table"),
        EngineError::UndefinedColumn { .. } => (S::BAD_REQUEST, "undefined_column"),
        EngineError::UndefinedObject { .. } => (S::NOT_FOUND, "undefined_object"),
        EngineError::PermissionDenied(_) => (S::FORBIDDEN, "permission_denied"),
        EngineError::DuplicateObject(_) => (S::CONFLICT, "duplicate_object"),
        EngineError::InvalidGrant(_) => (S::BAD_REQUEST, "invalid_grant_operation"),
        EngineError::DuplicateTable(_) => (S::CONFLICT, "duplicate_table"),
        EngineError::DuplicateColumn { .. } => (S::BAD_REQUEST, "duplicate_column"),
        EngineError::InvalidDefinition(_) => (S::BAD_REQUEST, "invalid_definition"),
        EngineError::NotNullViolation { .. } => (S::UNPROCESSABLE_ENTITY, "not_null_violation"),
        EngineError::UniqueViolation { .. } => (S::CONFLICT, "unique_violation"),
        EngineError::CheckViolation { .. } => (S::UNPROCESSABLE_ENTITY, "check_violation"),
        EngineError::ForeignKeyViolation { .. } => (S::CONFLICT, "foreign_key_violation"),
        EngineError::DependentObjects(_) => (S::CONFLICT, "dependent_objects_still_exist"),
        EngineError::DatatypeMismatch(_) => (S::BAD_REQUEST, "datatype_mismatch"),
        EngineError::InvalidTextRepresentation { .. } => (S::BAD_REQUEST, "invalid_text_representation"),
        EngineError::DatetimeOverflow(_) => (S::BAD_REQUEST, "datetime_field_overflow"),
        EngineError::NumericOverflow(_) => (S::BAD_REQUEST, "numeric_value_out_of_range"),
        EngineError::SequenceLimit(_) => (S::CONFLICT, "sequence_generator_limit_exceeded"),
        EngineError::DivisionByZero => (S::BAD_REQUEST, "division_by_zero"),
        EngineError::StringTooLong(_) => (S::UNPROCESSABLE_ENTITY, "string_data_right_truncation"),
        EngineError::CannotCast { .. } => (S::BAD_REQUEST, "cannot_coerce"),
        EngineError::FeatureNotSupported(_) => (S::BAD_REQUEST, "feature_not_supported"),
        EngineError::InvalidParameter(_) => (S::BAD_REQUEST, "invalid_parameter_value"),
        EngineError::OutOfMemory(_) => (S::INSUFFICIENT_STORAGE, "out_of_memory"),
        EngineError::TooManyTransactions => (S::SERVICE_UNAVAILABLE, "too_many_transactions"),
        EngineError::CorruptRecord(_) => (S::INTERNAL_SERVER_ERROR, "data_corrupted"),
        EngineError::Io(_) => (S::SERVICE_UNAVAILABLE, "io_error"),
        EngineError::WrongType => (S::CONFLICT, "wrong_type"),
        EngineError::NotAnInteger(_) => (S::BAD_REQUEST, "not_an_integer"),
        EngineError::NoSuchKey => (S::NOT_FOUND, "not_found"),
        EngineError::IndexOutOfRange => (S::BAD_REQUEST, "index_out_of_range"),
        EngineError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal_error"),
    }
}

/// Extra details an engine error carries (the column at fault, …).
fn engine_details(e: &EngineError) -> Option<(&'static str, String)> {
    match e {
        EngineError::NotNullViolation { column, .. } | EngineError::UndefinedColumn { column, .. } => {
            Some(("field", column.clone()))
        }
        EngineError::UniqueViolation { detail, .. } | EngineError::ForeignKeyViolation { detail, .. } => {
            Some(("detail", detail.clone()))
        }
        EngineError::CheckViolation { constraint, .. } => Some(("constraint", constraint.clone())),
        _ => None,
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        ApiError::from(SqlError::Engine(e))
    }
}

impl From<SqlError> for ApiError {
    fn from(e: SqlError) -> ApiError {
        use StatusCode as S;
        let (status, code) = match &e {
            SqlError::Syntax { .. } => (S::BAD_REQUEST, "syntax_error"),
            SqlError::Semantic(_) => (S::BAD_REQUEST, "syntax_error"),
            SqlError::TooComplex(_) => (S::BAD_REQUEST, "statement_too_complex"),
            SqlError::UndefinedColumn(_) => (S::BAD_REQUEST, "undefined_column"),
            SqlError::AmbiguousColumn(_) => (S::BAD_REQUEST, "ambiguous_column"),
            SqlError::UndefinedFunction(_) => (S::BAD_REQUEST, "undefined_function"),
            SqlError::DatatypeMismatch(_) => (S::BAD_REQUEST, "datatype_mismatch"),
            SqlError::Grouping(_) => (S::BAD_REQUEST, "grouping_error"),
            SqlError::InvalidColumnReference(_) => (S::BAD_REQUEST, "invalid_column_reference"),
            SqlError::CardinalityViolation => (S::BAD_REQUEST, "cardinality_violation"),
            SqlError::InFailedTransaction => (S::BAD_REQUEST, "in_failed_sql_transaction"),
            SqlError::InvalidTransactionState(_) => (S::BAD_REQUEST, "invalid_transaction_state"),
            SqlError::ObjectInUse(_) => (S::CONFLICT, "object_in_use"),
            SqlError::UndefinedPreparedStatement(_) => (S::BAD_REQUEST, "undefined_prepared_statement"),
            SqlError::DuplicateObject { .. } => (S::CONFLICT, "duplicate_object"),
            SqlError::DataException { .. } => (S::BAD_REQUEST, "data_exception"),
            SqlError::DependentObjects(_) => (S::CONFLICT, "dependent_objects_still_exist"),
            SqlError::FeatureNotSupported(_) => (S::BAD_REQUEST, "feature_not_supported"),
            SqlError::UndefinedParameter(_) | SqlError::UndefinedObject(_) => (S::BAD_REQUEST, "undefined_object"),
            SqlError::MissingFromEntry(_) => (S::BAD_REQUEST, "undefined_table"),
            SqlError::Windowing(_) => (S::BAD_REQUEST, "windowing_error"),
            SqlError::InvalidParameter(_) => (S::BAD_REQUEST, "invalid_parameter_value"),
            SqlError::ReadOnlyParameter(_) => (S::BAD_REQUEST, "cant_change_runtime_param"),
            SqlError::WrongObjectType(_) => (S::BAD_REQUEST, "wrong_object_type"),
            SqlError::QueryCanceled(_) => (S::SERVICE_UNAVAILABLE, "query_canceled"),
            SqlError::UndefinedSchema(_) => (S::NOT_FOUND, "invalid_schema_name"),
            SqlError::ReservedName(_) => (S::BAD_REQUEST, "reserved_name"),
            SqlError::Engine(inner) => engine_kind(inner),
        };
        let mut details = serde_json::Map::new();
        details.insert("sqlstate".into(), json!(e.sqlstate()));
        if let SqlError::Engine(inner) = &e
            && let Some((name, value)) = engine_details(inner)
        {
            details.insert(name.into(), json!(value));
        }
        if let SqlError::UndefinedColumn(column) = &e {
            details.insert("field".into(), json!(column));
        }
        ApiError { status, code, message: e.to_string(), details: Json::Object(details) }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        let (status, code) = match &r {
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            JsonRejection::MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            JsonRejection::BytesRejection(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            _ => (StatusCode::BAD_REQUEST, "bad_request"),
        };
        // A body over the limit arrives as a bytes rejection with 413; one
        // that cannot be read (a broken gzip stream) is the client's 400.
        let (status, code) = match (&r, r.status()) {
            (_, StatusCode::PAYLOAD_TOO_LARGE) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            (JsonRejection::BytesRejection(_), _) => (StatusCode::BAD_REQUEST, "unreadable_body"),
            _ => (status, code),
        };
        ApiError::new(status, code, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", r.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_are_conflicts_with_the_sqlstate() {
        let e = ApiError::from(EngineError::UniqueViolation {
            table: "t".into(),
            constraint: "t_pkey".into(),
            detail: "Key (id)=(1)".into(),
        });
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(e.code, "unique_violation");
        assert_eq!(e.details["sqlstate"], "23505");
    }

    #[test]
    fn not_null_violations_name_the_field() {
        let e = ApiError::from(EngineError::NotNullViolation { table: "t".into(), column: "name".into() });
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.details["field"], "name");
    }

    #[test]
    fn batch_errors_say_which_record() {
        let e = ApiError::invalid_field("age", "not an integer").at_index(3);
        assert_eq!(e.details["index"], 3);
        assert_eq!(e.details["field"], "age");
        assert!(e.message.starts_with("record 3:"));
    }
}
