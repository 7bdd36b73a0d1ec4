//! The contract's error body, `{"message","code"}`, every error response the API documents (which
//! of them an operation lists depends on its kind of route), the one table that gives each
//! service error its status ([`ApiError::answer`]; a route that answers a condition otherwise
//! says so with [`Errors::when`]), and what poem's own errors (unknown routes, unreadable bodies)
//! become.

use std::marker::PhantomData;

use poem::error::{MethodNotAllowedError, NotFoundError};
use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt, IntoResponse, Response};
use poem_openapi::error::{ContentTypeError, ParseParamError, ParseRequestPayloadError};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::{ApiResponse, Object};
use service::error::OrgError;

/// Every error the API returns: a human-readable message and, where the contract has one, a
/// stable machine-readable code.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub message: String,
    /// A stable code for programs, e.g. `INVALID_EMAIL_OR_PASSWORD`.
    #[oai(skip_serializing_if_is_none)]
    pub code: Option<String>,
}

impl ErrorBody {
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            message: message.to_owned(),
            code: Some(code.to_owned()),
        }
    }
}

/// An error response, by status. Handlers return it through [`Errors`], which documents the
/// statuses of the operation's kind of route; 413, 415 and 429 come from the middleware.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed or breaks a rule (see `code`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No valid session, or the credentials or the token are wrong.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// Not allowed: untrusted origin or callback URL, stale session, unverified email, missing
    /// permission.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// The feature or the social provider is not enabled in this configuration, or the link's
    /// token is unknown.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// Only for a route the document does not list (`POST /get-session`).
    #[oai(status = 405)]
    MethodNotAllowed(Json<ErrorBody>),
    /// The request body is over 64 KiB (`PAYLOAD_TOO_LARGE`).
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The request body is not `application/json` (`UNSUPPORTED_MEDIA_TYPE`).
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The request conflicts with existing data (e.g. the email is taken).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Rate-limited: too many requests from this client to this path (no `code`), or too many
    /// failed password checks for this account lately (`TOO_MANY_REQUESTS`, with `Retry-After`
    /// as well); retry after `X-Retry-After` seconds.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        #[oai(header = "X-Retry-After")] u64,
        #[oai(header = "Retry-After")] Option<u64>,
    ),
    /// Something failed on our side; the details are in the server log under the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// Overloaded, or the database or the social provider is unreachable; retry after the given
    /// seconds.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] u32),
}

/// A kind of route, by the errors it can answer.
pub trait RouteKind: Send + Sync + 'static {
    /// The statuses documented, each with its [`ApiError`] description.
    const STATUSES: &'static [u16];
    /// Where the route's input is, as validation messages name it (`[body.slug]`,
    /// `[query.sortBy]`).
    const INPUT: &'static str;
}

/// A route under `/api/auth` without a request body: bad parameters or callback URL (400), no
/// session (401), refused origin or permission (403), rate limit (429), our side (500, 503).
pub struct NoBody;

impl RouteKind for NoBody {
    const STATUSES: &'static [u16] = &[400, 401, 403, 429, 500, 503];
    const INPUT: &'static str = "query";
}

/// A route under `/api/auth` with a JSON body: as [`NoBody`], plus a body too large (413) or
/// not JSON (415).
pub struct JsonBody;

impl RouteKind for JsonBody {
    const STATUSES: &'static [u16] = &[400, 401, 403, 413, 415, 429, 500, 503];
    const INPUT: &'static str = "body";
}

/// `/api/auth/ok`: only the rate limiter refuses it.
pub struct Probe;

impl RouteKind for Probe {
    const STATUSES: &'static [u16] = &[429];
    const INPUT: &'static str = "query";
}

/// An [`ApiError`] as an operation of kind `K` documents it: `K`'s statuses, plus `EXTRA` when
/// the operation has one of its own (422 for sign-up's taken email, 404 for a switched-off
/// feature or an unconfigured provider). The response is the error's, whatever its status.
pub struct Errors<K, const EXTRA: u16 = 0>(pub ApiError, PhantomData<K>);

impl<K, const EXTRA: u16> From<ApiError> for Errors<K, EXTRA> {
    fn from(e: ApiError) -> Self {
        Self(e, PhantomData)
    }
}

impl<K: RouteKind, const EXTRA: u16> From<service::Error> for Errors<K, EXTRA> {
    fn from(e: service::Error) -> Self {
        ApiError::answer(e, K::INPUT).into()
    }
}

impl<K: RouteKind, const EXTRA: u16> Errors<K, EXTRA> {
    /// Answers `condition` with `status` instead of the table's, where Better Auth does so on
    /// this route; any other error as the table says. For `map_err`.
    pub fn when(condition: OrgError, status: u16) -> impl FnOnce(service::Error) -> Self {
        move |e| match e {
            service::Error::Org(o) if o == condition => {
                let body = ApiError::body(&e, K::INPUT);
                ApiError::with_status(status, body).into()
            }
            e => e.into(),
        }
    }
}

impl<K: RouteKind, const EXTRA: u16> ApiResponse for Errors<K, EXTRA> {
    fn meta() -> MetaResponses {
        let mut meta = ApiError::meta();
        meta.responses.retain(|r| {
            r.status
                .is_some_and(|s| K::STATUSES.contains(&s) || s == EXTRA)
        });
        meta
    }

    fn register(registry: &mut Registry) {
        ApiError::register(registry);
    }
}

impl<K: Send + Sync, const EXTRA: u16> IntoResponse for Errors<K, EXTRA> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl<K, const EXTRA: u16> From<Errors<K, EXTRA>> for poem::Error {
    fn from(e: Errors<K, EXTRA>) -> Self {
        e.0.into()
    }
}

impl ApiError {
    /// The contract's body for `e`; a validation message names where its field was (`input`).
    fn body(e: &service::Error, input: &str) -> Json<ErrorBody> {
        let message = match e {
            service::Error::Validation {
                field: Some(field),
                message,
            } => format!("[{input}.{field}] {message}"),
            service::Error::Validation {
                field: None,
                message,
            } => format!("[{input}] {message}"),
            e => e.to_string(),
        };
        Json(ErrorBody {
            message,
            code: e.code().map(str::to_owned),
        })
    }

    /// A `VALIDATION_ERROR` about `place` (`body.metadata`, `query.sortDirection`, `body`).
    pub fn invalid(place: &str, message: &str) -> Self {
        let message = format!("[{place}] {message}");
        ApiError::BadRequest(Json(ErrorBody::new("VALIDATION_ERROR", &message)))
    }

    /// `body` under `status` (one [`status`] gives, or a route's own choice).
    fn with_status(status: u16, body: Json<ErrorBody>) -> Self {
        match status {
            401 => ApiError::Unauthorized(body),
            403 => ApiError::Forbidden(body),
            404 => ApiError::NotFound(body),
            422 => ApiError::Unprocessable(body),
            500 => ApiError::Internal(body),
            _ => ApiError::BadRequest(body),
        }
    }

    /// 503 while the database (or what counts in its place) cannot answer; retried in 5 s.
    pub fn database_unavailable() -> Self {
        ApiError::Unavailable(
            Json(ErrorBody::new(
                "SERVICE_UNAVAILABLE",
                "The database is unavailable",
            )),
            5,
        )
    }

    /// The answer to `e`, whose input (for validation messages) was in `input`.
    pub fn answer(e: service::Error, input: &str) -> Self {
        use service::Error as E;
        let body = ApiError::body(&e, input);
        match e {
            E::ProviderUnavailable => ApiError::Unavailable(body, 5),
            E::TooManyAttempts { retry_after } => {
                ApiError::TooManyRequests(body, retry_after, Some(retry_after))
            }
            E::Overloaded => ApiError::Unavailable(body, 1),
            E::Database(ref db) => {
                tracing::error!(error = %db, "database error");
                if service::error::unavailable(db) {
                    ApiError::database_unavailable()
                } else {
                    ApiError::Internal(body)
                }
            }
            e => ApiError::with_status(status(&e), body),
        }
    }
}

/// Every error the rules can answer, and its status: the one table. A route that answers a
/// condition otherwise (as Better Auth does on some routes) says so with [`Errors::when`].
fn status(e: &service::Error) -> u16 {
    use service::Error as E;
    match e {
        E::Validation { .. }
        | E::InvalidEmail
        | E::PasswordTooShort
        | E::PasswordTooLong
        | E::InvalidPassword
        | E::CredentialAccountNotFound
        | E::EmailCanNotBeUpdated
        | E::NoFieldsToUpdate
        | E::FieldNotAllowed(_)
        | E::InvalidToken
        | E::TokenExpired
        | E::UserNotFound
        | E::EmailMismatch
        | E::EmailAlreadyVerified
        | E::EmailIsTheSame
        | E::ChangeEmailDisabled
        | E::SessionExpired
        | E::AccountNotFound
        | E::FailedToUnlinkLastAccount
        | E::IdTokenNotSupported
        | E::FailedToGetAccessToken
        | E::RefreshTokenNotFound
        | E::FailedToRefreshAccessToken
        | E::FailedToGetUserInfo
        | E::ProviderNotSupported(_)
        | E::OnlyOwner(_)
        | E::RoleNotFound(_)
        | E::MagicLinkSignUpDisabled => 400,
        E::InvalidEmailOrPassword | E::Unauthorized => 401,
        E::EmailNotVerified | E::SessionNotFresh | E::BannedUser => 403,
        E::DeleteUserDisabled | E::MagicLinkDisabled | E::ProviderNotFound => 404,
        E::UserAlreadyExists => 422,
        E::Org(o) => org_status(*o),
        E::Admin(service::admin::AdminError::UserNotFound) => 404,
        E::Admin(a) if a.is_forbidden() => 403,
        E::Admin(_) => 400,
        E::ProviderUnavailable | E::Overloaded => 503,
        E::TooManyAttempts { .. } => 429,
        E::Database(_) => 500,
    }
}

/// The organization plugin's part of the table.
fn org_status(e: OrgError) -> u16 {
    use OrgError as O;
    match e {
        O::OrganizationAlreadyExists
        | O::SlugAlreadyTaken
        | O::OrganizationNotFound
        | O::UserNotAMember
        | O::NoActiveOrganization
        | O::MemberNotFound
        | O::OnlyOwner
        | O::WithoutAnOwner
        | O::AlreadyAMember
        | O::AlreadyInvited
        | O::InvitationNotFound
        | O::InviterGone
        | O::TeamNotFound
        | O::InvalidTeamId
        | O::TeamLimitReached
        | O::UnableToRemoveLastTeam
        | O::NotATeamMember
        | O::NoActiveTeam => 400,
        // Better Auth's status for this refusal, unlike its neighbours'.
        O::NotAllowedToDeleteMember => 401,
        O::NotAllowedToCreateOrganization
        | O::OrganizationLimitReached
        | O::NotAMember
        | O::NotAllowedToUpdateOrganization
        | O::NotAllowedToDeleteOrganization
        | O::YouAreNotAMember
        | O::NotAllowedToUpdateMember
        | O::NotAllowedToInvite
        | O::NotAllowedToInviteWithRole
        | O::InvitationLimitReached
        | O::NotTheRecipient
        | O::VerificationRequiredToAnswer
        | O::VerificationRequiredToView
        | O::NotAllowedToCancel
        | O::NotAllowedToListInvitations
        | O::MembershipLimitReached
        | O::NotAllowedToCreateTeams
        | O::NotAllowedToAccessOrganization
        | O::NotAllowedToUpdateTeam
        | O::NotAllowedToDeleteThisTeam
        | O::NotAllowedToDeleteTeams
        | O::NotAllowedToAddTeamMember
        | O::NotAllowedToRemoveTeamMember
        | O::TeamMemberLimitReached => 403,
        O::DeletionDisabled => 404,
    }
}

impl From<service::Error> for ApiError {
    /// As the table says; a validation message names the body as its place.
    fn from(e: service::Error) -> Self {
        ApiError::answer(e, "body")
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn json(status: StatusCode, body: ErrorBody) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(serde_json::json!({"message": body.message, "code": body.code}).to_string())
}

/// A body that is not an object where one is expected, in zod's words as Better Auth answers it
/// (an absent body is `undefined` to it); any other reason as it is.
fn body_reason(reason: &str, absent: bool) -> std::borrow::Cow<'_, str> {
    // `wire::Refined` words its own refusals as zod does; poem-openapi puts the type's name
    // before them.
    let zod = reason
        .strip_prefix("failed to parse \"")
        .and_then(|r| r.split_once("\": "))
        .map(|(_, rest)| rest)
        .filter(|rest| rest.starts_with("Invalid input") || rest.starts_with("Unrecognized key"));
    let found = reason
        .strip_prefix("Expected input type \"")
        .and_then(|r| r.split_once("\", found "))
        .and_then(|(_, found)| found.strip_suffix('.'))
        .and_then(|found| serde_json::from_str::<serde_json::Value>(found).ok());
    let message: std::borrow::Cow<'_, str> = match (zod, found) {
        (Some(zod), _) => zod.into(),
        (None, Some(v)) => format!(
            "Invalid input: expected object, received {}",
            crate::wire::json_type(&v)
        )
        .into(),
        (None, None) => return reason.into(),
    };
    match absent {
        true => message
            .replace("received null", "received undefined")
            .into(),
        false => message,
    }
}

/// Turns poem's own errors into the contract's answers: an unknown path or a known path with the
/// wrong method is a 404 with an empty body (Better Auth has no 405); an unreadable body or a query
/// parameter that does not parse is a 400, a missing or wrong content type a 415, each with
/// `{"message","code"}`.
pub fn with_contract_fallbacks(ep: impl Endpoint + 'static) -> impl Endpoint {
    ep.around(|ep, req| async move {
        let absent = req
            .extensions()
            .get::<crate::body_limit::NoBody>()
            .is_some();
        Ok(match ep.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => contract_answer(err, absent),
        })
    })
}

/// The contract's answer for one of poem's errors; `absent`: the request had no body.
fn contract_answer(err: poem::Error, absent: bool) -> Response {
    // Our own error responses pass through as they are.
    if err.is_from_response() {
        return err.into_response();
    }
    if err.is::<NotFoundError>() || err.is::<MethodNotAllowedError>() {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        // serde_json's syntax errors end with "at line L column C"; schema errors do not.
        let syntax = e.reason.contains(" at line ") && e.reason.contains(" column ");
        return if syntax {
            json(
                StatusCode::BAD_REQUEST,
                ErrorBody::new("BAD_REQUEST", "Invalid JSON in request body"),
            )
        } else {
            let message = format!("[body] {}", body_reason(&e.reason, absent));
            json(
                StatusCode::BAD_REQUEST,
                ErrorBody::new("VALIDATION_ERROR", &message),
            )
        };
    }
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        // Every parameter the API declares is in the query string.
        let message = format!(
            "[query.{}] {}",
            e.name,
            crate::wire::param_reason(&e.reason)
        );
        return json(
            StatusCode::BAD_REQUEST,
            ErrorBody::new("VALIDATION_ERROR", &message),
        );
    }
    if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        let message = match e {
            ContentTypeError::NotSupported { content_type } => {
                format!("Content-Type \"{content_type}\" is not allowed. Allowed types: application/json")
            }
            ContentTypeError::ExpectContentType => {
                "Content-Type is required. Allowed types: application/json".to_owned()
            }
        };
        return json(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorBody::new("UNSUPPORTED_MEDIA_TYPE", &message),
        );
    }
    let status = err.status();
    if status.is_server_error() {
        tracing::error!(error = %err, "unhandled error");
        return json(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorBody::new("INTERNAL_SERVER_ERROR", "Internal Server Error"),
        );
    }
    json(
        status,
        ErrorBody::new(
            "BAD_REQUEST",
            status.canonical_reason().unwrap_or("Bad request"),
        ),
    )
}
