//! Admin API: trust groups with their members, and collections.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{audit_change, created, json_body, no_content, Admin};
use crate::domain::model::{Collection, CollectionUpdate, CustomContent, Membership, NewCollection, UnknownMarking};
use crate::domain::timestamp::{format_micros, format_nanos};
use crate::domain::tlp::Tlp;
use crate::http::error::ApiError;
use crate::http::AppState;

fn access(s: &str) -> Result<Membership, ApiError> {
    Membership::parse(s).ok_or_else(|| ApiError::BadRequest(format!("access '{s}': use read, write or read-write")))
}

fn tlp(s: &str) -> Result<Tlp, ApiError> {
    Tlp::parse(s)
        .ok_or_else(|| ApiError::BadRequest(format!("default_tlp '{s}': use clear, green, amber, amber+strict or red")))
}

fn group_json(g: &crate::domain::model::TrustGroup) -> serde_json::Value {
    let members: Vec<_> = g
        .members
        .iter()
        .map(|m| serde_json::json!({ "organisation_id": m.organisation_id, "access": Membership { can_read: m.can_read, can_write: m.can_write }.name() }))
        .collect();
    serde_json::json!({ "id": g.id, "name": g.name, "description": g.description, "members": members })
}

fn collection_json(c: &Collection) -> serde_json::Value {
    serde_json::json!({
        "id": c.id, "api_root": c.api_root, "alias": c.alias, "title": c.title, "description": c.description,
        "trust_group_id": c.trust_group_id, "default_tlp": c.default_tlp.name(), "custom_content": c.custom_content.name(),
        "unknown_marking_tlp": c.unknown_marking.name(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    organisation_id: Option<i64>,
    access: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupBody {
    name: Option<String>,
    description: Option<Option<String>>,
    members: Option<Vec<MemberBody>>,
}

async fn list_groups(state: web::Data<AppState>, _a: Admin) -> Result<HttpResponse, ApiError> {
    let groups: Vec<_> = state.storage.trust_groups().await?.iter().map(group_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "trust_groups": groups })))
}

async fn create_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let b: GroupBody = json_body(&body)?;
    let name = b.name.ok_or_else(|| ApiError::BadRequest("name is required".into()))?;
    let members: Vec<(i64, Membership)> = b
        .members
        .unwrap_or_default()
        .iter()
        .map(|m| {
            Ok((
                m.organisation_id.ok_or_else(|| ApiError::BadRequest("members need organisation_id".into()))?,
                access(&m.access)?,
            ))
        })
        .collect::<Result<_, ApiError>>()?;
    for (org, _) in &members {
        if state.storage.organisation(*org).await?.is_none() {
            return Err(ApiError::BadRequest(format!("no organisation {org}")));
        }
    }
    let id = state.storage.create_trust_group(&name, b.description.flatten().as_deref()).await?;
    for (org, m) in members {
        state.storage.set_membership(id, org, m).await?;
    }
    audit_change(&req, format!("created trust group {id} '{name}'"));
    Ok(created(state.storage.trust_group(id).await?.as_ref().map(group_json)))
}

async fn get_group(state: web::Data<AppState>, _a: Admin, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let g = state.storage.trust_group(*id).await?.ok_or_else(|| ApiError::NotFound(format!("no trust group {id}")))?;
    Ok(HttpResponse::Ok().json(group_json(&g)))
}

async fn update_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let b: GroupBody = json_body(&body)?;
    if b.members.is_some() {
        return Err(ApiError::BadRequest(
            "change members with PUT/DELETE /admin/trust-groups/{id}/members/{organisation_id}/".into(),
        ));
    }
    state.storage.update_trust_group(*id, b.name, b.description).await?;
    audit_change(&req, format!("updated trust group {id}: {}", String::from_utf8_lossy(&body)));
    get_group(state, _a, id).await
}

async fn delete_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state.storage.delete_trust_group(*id).await?;
    audit_change(&req, format!("deleted trust group {id}"));
    Ok(no_content())
}

async fn put_member(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    path: web::Path<(i64, i64)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (group, org) = path.into_inner();
    let b: MemberBody = json_body(&body)?;
    let m = access(&b.access)?;
    if state.storage.trust_group(group).await?.is_none() {
        return Err(ApiError::NotFound(format!("no trust group {group}")));
    }
    if state.storage.organisation(org).await?.is_none() {
        return Err(ApiError::NotFound(format!("no organisation {org}")));
    }
    state.storage.set_membership(group, org, m).await?;
    audit_change(&req, format!("trust group {group}: organisation {org} now has {} access", b.access));
    Ok(no_content())
}

async fn delete_member(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (group, org) = path.into_inner();
    state.storage.remove_membership(group, org).await?;
    audit_change(&req, format!("trust group {group}: removed organisation {org}"));
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CollectionBody {
    id: Option<String>,
    api_root: Option<String>,
    alias: Option<Option<String>>,
    title: Option<String>,
    description: Option<Option<String>>,
    trust_group_id: Option<i64>,
    default_tlp: Option<String>,
    custom_content: Option<String>,
    unknown_marking_tlp: Option<String>,
}

fn unknown_marking(s: &str) -> Result<UnknownMarking, ApiError> {
    UnknownMarking::parse(s)
        .ok_or_else(|| ApiError::BadRequest(format!("unknown_marking_tlp '{s}': use refuse or red")))
}

fn custom(s: &str) -> Result<CustomContent, ApiError> {
    CustomContent::parse(s).ok_or_else(|| ApiError::BadRequest(format!("custom_content '{s}': use allow or reject")))
}

async fn list_collections(state: web::Data<AppState>, _a: Admin) -> Result<HttpResponse, ApiError> {
    let cs: Vec<_> = state.storage.all_collections().await?.iter().map(collection_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "collections": cs })))
}

async fn create_collection(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let b: CollectionBody = json_body(&body)?;
    let api_root = b.api_root.ok_or_else(|| ApiError::BadRequest("api_root is required".into()))?;
    if state.config.api_root(&api_root).is_none() {
        return Err(ApiError::BadRequest(format!("no API root '{api_root}' is configured")));
    }
    let trust_group_id = b.trust_group_id.ok_or_else(|| ApiError::BadRequest("trust_group_id is required".into()))?;
    if state.storage.trust_group(trust_group_id).await?.is_none() {
        return Err(ApiError::BadRequest(format!("no trust group {trust_group_id}")));
    }
    if let Some(id) = &b.id {
        uuid::Uuid::parse_str(id).map_err(|_| ApiError::BadRequest(format!("collection id '{id}' is not a UUID")))?;
    }
    let c = state
        .storage
        .create_collection(NewCollection {
            api_root,
            id: b.id,
            alias: b.alias.flatten(),
            title: b.title.ok_or_else(|| ApiError::BadRequest("title is required".into()))?,
            description: b.description.flatten(),
            trust_group_id,
            default_tlp: b.default_tlp.as_deref().map(tlp).transpose()?.unwrap_or(Tlp::Amber),
            custom_content: b.custom_content.as_deref().map(custom).transpose()?.unwrap_or_default(),
            unknown_marking: b.unknown_marking_tlp.as_deref().map(unknown_marking).transpose()?.unwrap_or_default(),
        })
        .await?;
    audit_change(&req, format!("created collection {} '{}' for trust group {}", c.id, c.title, c.trust_group_id));
    Ok(created(collection_json(&c)))
}

async fn get_collection(
    state: web::Data<AppState>,
    _a: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let c = state
        .storage
        .collection_by_id(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no collection '{id}'")))?;
    Ok(HttpResponse::Ok().json(collection_json(&c)))
}

async fn update_collection(
    req: HttpRequest,
    state: web::Data<AppState>,
    a: Admin,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let b: CollectionBody = json_body(&body)?;
    if b.id.is_some() || b.api_root.is_some() {
        return Err(ApiError::BadRequest("id and api_root cannot be changed".into()));
    }
    if let Some(g) = b.trust_group_id {
        if state.storage.trust_group(g).await?.is_none() {
            return Err(ApiError::BadRequest(format!("no trust group {g}")));
        }
    }
    let update = CollectionUpdate {
        alias: b.alias,
        title: b.title,
        description: b.description,
        trust_group_id: b.trust_group_id,
        default_tlp: b.default_tlp.as_deref().map(tlp).transpose()?,
        custom_content: b.custom_content.as_deref().map(custom).transpose()?,
        unknown_marking: b.unknown_marking_tlp.as_deref().map(unknown_marking).transpose()?,
    };
    state.storage.update_collection(&id, update).await?;
    audit_change(&req, format!("updated collection {id}: {}", String::from_utf8_lossy(&body)));
    get_collection(state, a, id).await
}

async fn delete_collection(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.storage.delete_collection(&id).await?;
    audit_change(&req, format!("deleted collection {id}"));
    Ok(no_content())
}

/// How each stored version of one object is shared — producer, effective TLP, why, and RED
/// recipients — so an administrator can see how the hub understood a producer's markings.
/// Metadata only: the object itself stays behind the sharing policy.
async fn object_sharing(
    state: web::Data<AppState>,
    _a: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (collection_id, object_id) = path.into_inner();
    let c = state
        .storage
        .collection_by_id(&collection_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no collection '{collection_id}'")))?;
    let versions = state.storage.version_sharing(c.key, &object_id).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("no object '{object_id}' in collection '{collection_id}'")));
    }
    let versions: Vec<_> = versions
        .iter()
        .map(|v| {
            serde_json::json!({
                "id": v.stix_id, "spec_version": v.spec_version, "version": format_nanos(v.version),
                "date_added": format_micros(v.date_added), "producer_organisation_id": v.producer_org,
                "effective_tlp": v.tlp.name(), "tlp_reason": v.reason.stored(), "recipients": v.recipients,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "object_id": object_id, "versions": versions })))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/trust-groups/").route(web::get().to(list_groups)).route(web::post().to(create_group)))
        .service(
            web::resource("/trust-groups/{id}/")
                .route(web::get().to(get_group))
                .route(web::patch().to(update_group))
                .route(web::delete().to(delete_group)),
        )
        .service(
            web::resource("/trust-groups/{id}/members/{org}/")
                .route(web::put().to(put_member))
                .route(web::delete().to(delete_member)),
        )
        .service(
            web::resource("/collections/")
                .route(web::get().to(list_collections))
                .route(web::post().to(create_collection)),
        )
        .service(
            web::resource("/collections/{id}/")
                .route(web::get().to(get_collection))
                .route(web::patch().to(update_collection))
                .route(web::delete().to(delete_collection)),
        )
        .service(web::resource("/collections/{id}/objects/{object_id}/").route(web::get().to(object_sharing)));
}
