//! The console's errors, each shown as a page in words, with the status the
//! API gave (a member's 403 from the bare-metal API stays a 403).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};

use super::client::ApiError;
use super::views;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// Not signed in (or the token expired): back to the login page, then here.
    #[error("sign in first")]
    Login(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{}", .0.message)]
    Api(ApiError),
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        if e.status == 401 {
            return UiError::Login(String::new());
        }
        UiError::Api(e)
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::Login(_) => StatusCode::SEE_OTHER,
            UiError::Forbidden(_) => StatusCode::FORBIDDEN,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::NotFound(_) => StatusCode::NOT_FOUND,
            UiError::Api(e) => StatusCode::from_u16(e.status)
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::BAD_GATEWAY),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let UiError::Login(next) = self {
            let target = if next.starts_with("/ui/") && !next.starts_with("/ui/login") {
                format!("/ui/login?next={}", views::url_encode(next))
            } else {
                "/ui/login".to_string()
            };
            return HttpResponse::SeeOther().insert_header((header::LOCATION, target)).finish();
        }
        let status = self.status_code();
        let title = match status {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Not possible now",
            s if s.is_server_error() => "Service problem",
            _ => "Cannot do that",
        };
        views::html(status, views::error_page(status.as_u16(), title, &self.to_string()))
    }
}
