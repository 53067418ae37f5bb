//! Objects (§5.3–5.8): list, add, get one, delete, versions, manifest.

use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder};

use super::{api_root, taxii_response, visible_collection};
use crate::domain::cursor::{Position, Scope};
use std::collections::HashMap;

use crate::domain::effective_tlp::{self, Resolution};
use crate::domain::envelope;
use crate::domain::filters::{parse_query, Endpoint};
use crate::domain::markings::stored_definition_meaning;
use crate::domain::model::Role;
use crate::domain::model::{Collection, Page, StoredObject};
use crate::domain::policy::ObjectVisibility;
use crate::domain::timestamp::{format_micros, format_nanos, now_micros};
use crate::http::audit::AuditNote;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::media::{require_taxii_accept, require_taxii_content_type};
use crate::http::AppState;
use crate::storage::{DeleteOutcome, DeleteRequest, IngestBatch, ObjectQuery, Projection};

struct Listed {
    page: Page<StoredObject>,
    next: Option<String>,
}

/// The shared read path of every listing endpoint: access, filters, cursor, policy-filtered query.
/// Each endpoint differs only in these arguments.
#[allow(clippy::too_many_arguments)]
async fn list(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    root: &str,
    collection: &str,
    object_id: Option<&str>,
    endpoint: Endpoint,
    projection: Projection,
) -> Result<(Collection, Listed), ApiError> {
    require_taxii_accept(req)?;
    let (collection, access) = visible_collection(state, caller, root, collection).await?;
    if !access.can_read {
        return Err(ApiError::Forbidden("your organisation may write to this collection but not read it".into()));
    }
    let request = parse_query(req.query_string(), endpoint)?;
    let taxii = &state.config.taxii;
    let limit = request.limit.map_or(taxii.default_page_size, |l| (l as usize).min(taxii.max_page_size));
    let canonical = request.filter.canonical();
    let scope = Scope {
        endpoint: endpoint.tag(),
        collection_key: collection.key,
        account_id: caller.account.id,
        object_id,
        filter: &canonical,
    };
    let after = request.next.as_deref().map(|n| state.cursor_key.decode(&scope, n)).transpose()?;
    let visibility = ObjectVisibility::for_viewer(&caller.viewer());
    let page = state
        .storage
        .list_objects(ObjectQuery {
            collection_key: collection.key,
            visibility: visibility.clone(),
            object_id: object_id.map(str::to_string),
            filter: request.filter.clone(),
            after,
            limit,
            projection,
        })
        .await?;
    if let (Some(id), true, None) = (object_id, page.items.is_empty(), after) {
        if !state.storage.object_visible(collection.key, &visibility, id).await? {
            return Err(ApiError::NotFound(format!("no object '{id}' in this collection")));
        }
    }
    req.extensions_mut().insert(AuditNote {
        collection_key: Some(collection.key),
        object_count: page.items.len() as u64,
        date_added_first: page.items.first().map(|o| o.date_added),
        date_added_last: page.items.last().map(|o| o.date_added),
        object_ids: object_id.map(str::to_string),
        filter: Some(canonical.clone()),
        detail: None,
    });
    let next = match (page.more, page.items.last()) {
        (true, Some(last)) => {
            Some(state.cursor_key.encode(&scope, Position { date_added: last.date_added, seq: last.seq }))
        }
        _ => None,
    };
    Ok((collection, Listed { page, next }))
}

fn with_date_headers(items: &[StoredObject]) -> HttpResponseBuilder {
    let mut b = taxii_response(StatusCode::OK);
    if let (Some(first), Some(last)) = (items.first(), items.last()) {
        b.insert_header(("X-TAXII-Date-Added-First", format_micros(first.date_added)));
        b.insert_header(("X-TAXII-Date-Added-Last", format_micros(last.date_added)));
    }
    b
}

/// `{"more":…,"next":…,"<key>":[…]}` with `<key>` and `next` omitted when empty, as §3.7 asks.
fn paged_body(listed: &Listed, key: &str, mut write_items: impl FnMut(&mut String)) -> String {
    let mut out = String::with_capacity(
        64 + listed.page.items.iter().map(|o| o.raw.as_ref().map_or(120, |r| r.len() + 1)).sum::<usize>(),
    );
    out.push_str(if listed.page.more { "{\"more\":true" } else { "{\"more\":false" });
    if let Some(next) = &listed.next {
        out.push_str(",\"next\":");
        out.push_str(&serde_json::to_string(next).unwrap_or_default());
    }
    if !listed.page.items.is_empty() {
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":[");
        write_items(&mut out);
        out.push(']');
    }
    out.push('}');
    out
}

fn envelope_body(listed: &Listed) -> String {
    paged_body(listed, "objects", |out| {
        for (i, o) in listed.page.items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(o.raw.as_deref().unwrap_or("null"));
        }
    })
}

pub async fn get_objects(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (root, coll) = path.into_inner();
    let (_, listed) = list(&req, &state, &caller, &root, &coll, None, Endpoint::Objects, Projection::Full).await?;
    Ok(with_date_headers(&listed.page.items).body(envelope_body(&listed)))
}

pub async fn get_object(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (root, coll, id) = path.into_inner();
    let (_, listed) = list(&req, &state, &caller, &root, &coll, Some(&id), Endpoint::Object, Projection::Full).await?;
    Ok(with_date_headers(&listed.page.items).body(envelope_body(&listed)))
}

pub async fn get_manifest(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (root, coll) = path.into_inner();
    let (_, listed) = list(&req, &state, &caller, &root, &coll, None, Endpoint::Manifest, Projection::Metadata).await?;
    let body = paged_body(&listed, "objects", |out| {
        for (i, o) in listed.page.items.iter().enumerate() {
            let record = serde_json::json!({
                "id": o.stix_id,
                "date_added": format_micros(o.date_added),
                "version": format_nanos(o.version),
                "media_type": format!("application/stix+json;version={}", o.spec_version),
            });
            if i > 0 {
                out.push(',');
            }
            out.push_str(&record.to_string());
        }
    });
    Ok(with_date_headers(&listed.page.items).body(body))
}

pub async fn get_versions(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (root, coll, id) = path.into_inner();
    let (_, listed) =
        list(&req, &state, &caller, &root, &coll, Some(&id), Endpoint::ObjectVersions, Projection::Metadata).await?;
    let body = paged_body(&listed, "versions", |out| {
        for (i, o) in listed.page.items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(&format_nanos(o.version));
            out.push('"');
        }
    });
    Ok(with_date_headers(&listed.page.items).body(body))
}

pub async fn delete_object(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    require_taxii_accept(&req)?;
    let (root, coll, id) = path.into_inner();
    let (collection, access) = visible_collection(&state, &caller, &root, &coll).await?;
    if !(access.can_read && access.can_write) {
        return Err(ApiError::Forbidden("deleting needs both read and write access to this collection".into()));
    }
    let request = parse_query(req.query_string(), Endpoint::DeleteObject)?;
    req.extensions_mut().insert(AuditNote {
        collection_key: Some(collection.key),
        object_ids: Some(id.clone()),
        filter: Some(request.filter.canonical()),
        ..AuditNote::default()
    });
    let deleted = state
        .storage
        .delete_object(DeleteRequest {
            collection_key: collection.key,
            visibility: ObjectVisibility::for_viewer(&caller.viewer()),
            object_id: id.clone(),
            filter: request.filter,
            producer_org: (caller.account.role != Role::Admin).then_some(caller.account.organisation_id),
        })
        .await?;
    match deleted {
        DeleteOutcome::Deleted(n) => {
            tracing::info!(object = %id, versions = n, "deleted object versions");
            Ok(taxii_response(StatusCode::OK).finish())
        }
        DeleteOutcome::NotFound => {
            Err(ApiError::NotFound(format!("no object '{id}' matching the request in this collection")))
        }
        DeleteOutcome::NotProducer => Err(ApiError::Forbidden(
            "only the organisation that shared an object (or a hub administrator) may delete it".into(),
        )),
    }
}

pub async fn add_objects(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_taxii_accept(&req)?;
    require_taxii_content_type(&req)?;
    let (root, coll) = path.into_inner();
    let limit = state.config.max_content_length(api_root(&state, &root)?);
    let (collection, access) = visible_collection(&state, &caller, &root, &coll).await?;
    if !access.can_write {
        return Err(ApiError::Forbidden("your account may not write to this collection".into()));
    }
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // Held until the objects are stored: a slot covers the body's memory and the work on it.
    let _slot = state.uploads.take(caller.account.id).await?;
    let body = state.uploads.read_body(&mut payload, declared, limit).await?;
    req.extensions_mut().insert(AuditNote { collection_key: Some(collection.key), ..AuditNote::default() });
    let request_timestamp = now_micros();
    let custom = collection.custom_content;
    let max_objects = state.config.taxii.max_envelope_objects;
    let rules = collection.tlp_rules();
    // Most envelopes need nothing stored to resolve their TLP: then it is done on the parser
    // thread, in the same task.
    let parsed = state
        .parsers
        .run(move || {
            envelope::parse(&body, custom, max_objects).map(|parsed| {
                let lookup = effective_tlp::refs_to_look_up(&parsed);
                if lookup.is_empty() && !effective_tlp::needs_readers(&parsed) {
                    Ok(effective_tlp::resolve(parsed, &HashMap::new(), &HashMap::new(), rules))
                } else {
                    Err((parsed, lookup))
                }
            })
        })
        .await
        .ok_or_else(|| ApiError::Internal("the envelope parser failed".into()))??;
    let mut resolution = match parsed {
        Ok(resolution) => resolution,
        Err((parsed, lookup)) => resolve_tlp(&state, &caller, &collection, parsed, lookup).await?,
    };
    // A status lists the first failures and counts the rest, so it stays small whatever is posted.
    let listed = state.config.taxii.max_status_failures;
    let rejected_not_listed = resolution.refused.len().saturating_sub(listed);
    resolution.refused.truncate(listed);
    let status = state
        .storage
        .add_objects(IngestBatch {
            status_id: uuid::Uuid::new_v4().to_string(),
            api_root: root,
            collection_key: collection.key,
            account_id: caller.account.id,
            producer_org: caller.account.organisation_id,
            request_timestamp,
            objects: resolution.accepted,
            rejected: resolution.refused,
            rejected_not_listed,
        })
        .await?;
    tracing::info!(
        status = %status.id, accepted = status.success_count, rejected = status.failure_count, "objects added"
    );
    let accepted_ids: Vec<&str> = status.successes.iter().map(|d| d.id.as_str()).collect();
    req.extensions_mut().insert(AuditNote {
        collection_key: Some(collection.key),
        object_count: status.success_count as u64,
        object_ids: Some(accepted_ids.join(",")),
        detail: Some(format!(
            "status {}: {} accepted, {} refused",
            status.id, status.success_count, status.failure_count
        )),
        ..AuditNote::default()
    });
    let body = serde_json::to_string(&status).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(taxii_response(StatusCode::ACCEPTED).body(body))
}

/// The effective TLP of each object of the envelope (see `domain::effective_tlp`), for an
/// envelope that needs the stored marking-definitions among `lookup` or the collection's readers.
/// Stored definitions count only when the producer's own organisation stored them: another
/// partner's definition under the same id must not decide what this producer's marking means,
/// and nobody learns from a status which definitions others stored.
async fn resolve_tlp(
    state: &AppState,
    caller: &Caller,
    collection: &Collection,
    parsed: envelope::ParsedEnvelope,
    lookup: Vec<String>,
) -> Result<Resolution, ApiError> {
    let mut stored = HashMap::new();
    // In chunks: an envelope may name more unknown markings than a statement takes parameters.
    for chunk in lookup.chunks(500) {
        let org = caller.account.organisation_id;
        for (id, raw) in state.storage.marking_definitions(collection.key, org, chunk).await? {
            let meaning = stored_definition_meaning(&raw);
            let merged = match stored.remove(&id) {
                Some(before) => meaning.and(before),
                None => meaning,
            };
            stored.insert(id, merged);
        }
    }
    let readers = if effective_tlp::needs_readers(&parsed) {
        state.storage.collection_readers(collection.trust_group_id).await?
    } else {
        HashMap::new()
    };
    let rules = collection.tlp_rules();
    state
        .parsers
        .run(move || effective_tlp::resolve(parsed, &stored, &readers, rules))
        .await
        .ok_or_else(|| ApiError::Internal("resolving the envelope's TLP failed".into()))
}
