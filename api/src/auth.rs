//! Bearer tokens and roles. With no tokens configured the API serves loopback only and every caller is
//! the local user with every permission; otherwise each request names its token and the route checks
//! the token's role.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;

use certscan_workers::settings::Role;

use crate::error::ApiError;
use crate::AppState;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Job progress, exam status, downloading scans: every role.
    Read,
    /// Putting the roster: the portal.
    Roster,
    /// Uploading a scan file: the portal and the testing center.
    Upload,
    /// FIS FRDO import, generation, point upload, review decisions, unattach, audit: the testing center.
    Manage,
}

impl Permission {
    fn allows(self, role: Role) -> bool {
        match self {
            Permission::Read => true,
            Permission::Roster => role == Role::Portal,
            Permission::Upload => matches!(role, Role::Portal | Role::TestingCenter),
            Permission::Manage => role == Role::TestingCenter,
        }
    }
}

/// Who is calling: the token's name (recorded in the audit trail) and role (`None`: no tokens configured).
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Option<Role>,
}

impl Caller {
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        match self.role {
            None => Ok(()),
            Some(role) if permission.allows(role) => Ok(()),
            Some(role) => {
                Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("role {} may not do this ({permission:?})", role.code())))
            }
        }
    }
}

/// Equal-time comparison, so a token cannot be guessed by timing.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.tokens.is_empty() {
            return Ok(Caller { name: "local".into(), role: None });
        }
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m.to_string());
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("an Authorization: Bearer <token> header is required"))?;
        let presented = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorized("the Authorization header must be Bearer <token>"))?
            .trim();
        let mut found = None;
        for token in state.tokens.iter() {
            if same(token.token.as_bytes(), presented.as_bytes()) {
                found = Some(token);
            }
        }
        let token = found.ok_or_else(|| unauthorized("unknown token"))?;
        Ok(Caller { name: token.name.clone(), role: Some(token.role) })
    }
}
