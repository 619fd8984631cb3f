//! The API's routes and their OpenAPI document, from one declaration: every route is mounted through
//! `utoipa_axum::routes!` from its handler's `#[utoipa::path]`, whose request and response bodies are
//! the handlers' own types ([`crate::views`] and the domain's), so a route cannot be served undocumented
//! and a documented shape is the one serialised.

use std::sync::OnceLock;

use axum::extract::DefaultBodyLimit;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::{handlers, ledger, life, ops, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "certscan",
        description = "Certificate printing, scan recognition and attachment (contracts.md). Errors are \
            {\"error\": {\"code\", \"message\"}} with the right status. Roles: portal, testing_center, exam_site, \
            read_only; with no tokens configured the service serves loopback only and needs none."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "exams", description = "Rosters, FIS FRDO import, generation, status, audit"),
        (name = "scans", description = "Scan uploads and jobs"),
        (name = "review", description = "The review list and its decisions"),
        (name = "ledger", description = "The blank ledger"),
        (name = "life", description = "Exam list, issuance register, handover, events"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
struct ApiDoc;

/// `Authorization: Bearer <token>`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
    }
}

/// Every route with its document; uploads take `upload_limit` bytes, a FIS FRDO file `fis_limit`.
pub fn routes(upload_limit: usize, fis_limit: usize) -> OpenApiRouter<AppState> {
    let upload = DefaultBodyLimit::max(upload_limit);
    let fis = DefaultBodyLimit::max(fis_limit);
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(handlers::put_roster, handlers::get_roster))
        .routes(routes!(handlers::import_fis).layer(fis))
        .routes(routes!(handlers::generate))
        .routes(routes!(handlers::upload_scan).layer(upload))
        .routes(routes!(handlers::exam_status))
        .routes(routes!(handlers::review_list))
        .routes(routes!(handlers::audit_trail))
        .routes(routes!(handlers::job))
        .routes(routes!(handlers::job_page))
        .routes(routes!(handlers::download_scan, handlers::point_upload, handlers::unattach).layer(upload))
        .routes(routes!(handlers::assign))
        .routes(routes!(handlers::dismiss))
        .routes(routes!(handlers::review_page))
        .routes(routes!(handlers::review_preview))
        .routes(routes!(life::exam_list))
        .routes(routes!(life::get_register, life::generate_register))
        .routes(routes!(life::register_document))
        .routes(routes!(life::upload_register_scan).layer(upload))
        .routes(routes!(life::register_scan))
        .routes(routes!(life::register_signature))
        .routes(routes!(life::take_register))
        .routes(routes!(life::approve_register))
        .routes(routes!(life::reject_register))
        .routes(routes!(life::hand_over, life::undo_handover))
        .routes(routes!(life::events))
        .routes(routes!(ledger::list_packs))
        .routes(routes!(ledger::put_pack))
        .routes(routes!(ledger::spoil_blank))
        .routes(routes!(ledger::pack_report))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
}

/// The document as `GET /openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    routes(1, 1).split_for_parts().1
}

/// [`document`] as JSON, built once.
pub fn document_json() -> String {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| document().to_json().expect("the OpenAPI document serialises")).clone()
}
