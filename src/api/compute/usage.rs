//! Usage reports (`os-simple-tenant-usage`): how many server-hours, and
//! CPU, RAM and disk hours, each project used in a period — from the live
//! servers and what deleted ones left behind. Pages by server from 2.40.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

use super::error::Result;
use super::{ApiVersion, Caller, ComputeError, ComputeState, query_pairs};
use crate::common::openapi::Routes;
use crate::storage::servers::{self as db, UsageRecord};

pub fn routes(r: &mut Routes) {
    crate::routes!(r; index, show);
}

/// The period of a report and (2.40) its paging by server.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct UsageQuery {
    /// The period's start (`YYYY-MM-DDTHH:MM:SS[.ffffff]`, UTC); now when absent.
    start: Option<String>,
    /// The period's end; now when absent.
    end: Option<String>,
    /// `1`: each server's usage too (the listing of every project).
    detailed: Option<String>,
    /// (2.40) Servers per page.
    #[param(minimum = 0)]
    limit: Option<i64>,
    /// (2.40) The last server of the previous page.
    marker: Option<String>,
}

/// One server's share of the period. Times are `YYYY-MM-DDTHH:MM:SS.ffffff`
/// (UTC, no zone).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ServerUsage {
    instance_id: String,
    name: String,
    hours: f64,
    #[schema(required = true)]
    memory_mb: Option<i64>,
    local_gb: i64,
    #[schema(required = true)]
    vcpus: Option<i64>,
    tenant_id: String,
    /// The flavor's name.
    #[schema(required = true)]
    flavor: Option<String>,
    #[schema(required = true)]
    started_at: Option<String>,
    #[schema(required = true)]
    ended_at: Option<String>,
    /// The server's vm_state, or `terminated`.
    state: String,
    /// Seconds since launch.
    uptime: i64,
}

/// A project's usage in the period; every field is absent (an empty
/// object) when nothing ran in it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TenantUsage {
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    stop: String,
    #[serde(default)]
    total_hours: f64,
    #[serde(default)]
    total_vcpus_usage: f64,
    #[serde(default)]
    total_memory_mb_usage: f64,
    #[serde(default)]
    total_local_gb_usage: f64,
    /// Each server's usage (always for one project, with `detailed=1` for
    /// every project).
    #[serde(default)]
    server_usages: Vec<ServerUsage>,
}

/// `{"tenant_usage": …}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TenantUsageShow {
    tenant_usage: TenantUsage,
}

/// `{"tenant_usages": […]}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TenantUsageList {
    tenant_usages: Vec<TenantUsage>,
}

/// The period and paging a report asks for.
struct Query {
    start: NaiveDateTime,
    end: NaiveDateTime,
    detailed: bool,
    limit: Option<usize>,
    marker: Option<String>,
}

fn parse_time(s: &str) -> Result<NaiveDateTime> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), f).ok())
        .ok_or_else(|| ComputeError::bad(format!("Invalid input for query parameters: {s} is not a valid date-time.")))
}

fn query(req: &HttpRequest, v: ApiVersion, max_limit: i64) -> Result<Query> {
    let now = Utc::now().naive_utc();
    let mut q = Query { start: now, end: now, detailed: false, limit: None, marker: None };
    for (k, val) in query_pairs(req)? {
        match k.as_str() {
            "start" => q.start = parse_time(&val)?,
            "end" => q.end = parse_time(&val)?,
            "detailed" => q.detailed = val == "1",
            "limit" if v.at_least(40) => {
                let n: i64 = val
                    .parse()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| ComputeError::bad(format!("Invalid input for query parameters limit: {val}")))?;
                q.limit = Some(n.min(max_limit) as usize);
            }
            "marker" if v.at_least(40) => q.marker = Some(val),
            _ => {}
        }
    }
    if q.start > q.end {
        return Err(ComputeError::bad("Invalid start time. The start time cannot occur after the end time."));
    }
    Ok(q)
}

/// The page of records after the marker.
fn page(records: Vec<UsageRecord>, q: &Query, max_limit: i64) -> Result<Vec<UsageRecord>> {
    let from = match &q.marker {
        Some(m) => {
            records
                .iter()
                .position(|r| &r.uuid == m)
                .ok_or_else(|| ComputeError::bad(format!("Marker {m} could not be found.")))?
                + 1
        }
        None => 0,
    };
    let limit = q.limit.unwrap_or(max_limit as usize);
    Ok(records.into_iter().skip(from).take(limit).collect())
}

fn iso(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// One server's share of the period, as Nova reports it.
fn server_usage(r: &UsageRecord, start: NaiveDateTime, end: NaiveDateTime, now: NaiveDateTime) -> (f64, Value) {
    let flavor: Value = serde_json::from_str(&r.flavor).unwrap_or_default();
    let hours = match r.launched_at {
        Some(l) if l <= end && r.terminated_at.is_none_or(|t| t >= start) => {
            let from = l.max(start);
            let to = r.terminated_at.map_or(end, |t| t.min(end));
            ((to - from).num_microseconds().unwrap_or(0) as f64 / 3.6e9).max(0.0)
        }
        _ => 0.0,
    };
    let uptime = r.launched_at.map_or(0, |l| (r.terminated_at.unwrap_or(now) - l).num_seconds().max(0));
    let local_gb = flavor["disk"].as_i64().unwrap_or(0) + flavor["ephemeral"].as_i64().unwrap_or(0);
    let state = if r.terminated_at.is_some() { "terminated" } else { r.vm_state.as_str() };
    let usage = json!({
        "instance_id": r.uuid, "name": r.name, "hours": hours,
        "memory_mb": flavor["ram"], "local_gb": local_gb, "vcpus": flavor["vcpus"],
        "tenant_id": r.project_id, "flavor": flavor["name"],
        "started_at": r.launched_at.map(iso), "ended_at": r.terminated_at.map(iso),
        "state": state, "uptime": uptime,
    });
    (hours, usage)
}

/// One project's report over its records; `detailed` keeps each server's.
fn tenant_usage(project: &str, records: &[&UsageRecord], q: &Query, detailed: bool) -> Map<String, Value> {
    let now = Utc::now().naive_utc();
    let (mut hours, mut vcpus, mut ram, mut disk) = (0.0, 0.0, 0.0, 0.0);
    let mut servers = Vec::new();
    for r in records {
        let (h, u) = server_usage(r, q.start, q.end, now);
        hours += h;
        vcpus += h * u["vcpus"].as_f64().unwrap_or(0.0);
        ram += h * u["memory_mb"].as_f64().unwrap_or(0.0);
        disk += h * u["local_gb"].as_f64().unwrap_or(0.0);
        servers.push(u);
    }
    let mut m = Map::new();
    m.insert("tenant_id".into(), json!(project));
    m.insert("start".into(), json!(iso(q.start)));
    m.insert("stop".into(), json!(iso(q.end)));
    m.insert("total_hours".into(), json!(hours));
    m.insert("total_vcpus_usage".into(), json!(vcpus));
    m.insert("total_memory_mb_usage".into(), json!(ram));
    m.insert("total_local_gb_usage".into(), json!(disk));
    if detailed {
        m.insert("server_usages".into(), json!(servers));
    }
    m
}

/// Shows a project's usage in a period (its members or an administrator).
///
/// An empty object when nothing ran in the period.
#[utoipa::path(get, path = "/v2.1/os-simple-tenant-usage/{project}", tag = "usage",
    params(("project" = String, Path, description = "A project id."), UsageQuery),
    responses((status = 200, description = "The project's usage.", body = TenantUsageShow)))]
async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    let project = path.into_inner();
    if !caller.is_admin() && caller.project_id.as_deref() != Some(project.as_str()) {
        return Err(ComputeError::policy("os_compute_api:os-simple-tenant-usage:show"));
    }
    let q = query(&req, v, state.max_limit)?;
    let (p, start, end) = (project.clone(), q.start, q.end);
    let records = state.storage.read(move |c| db::usage_in(c, Some(&p), start, end)).await?;
    let records = page(records, &q, state.max_limit)?;
    let body = if records.is_empty() {
        Map::new()
    } else {
        tenant_usage(&project, &records.iter().collect::<Vec<_>>(), &q, true)
    };
    Ok(HttpResponse::Ok().json(json!({"tenant_usage": body})))
}

/// Lists every project's usage in a period (administrators).
#[utoipa::path(get, path = "/v2.1/os-simple-tenant-usage", tag = "usage", params(UsageQuery),
    responses((status = 200, description = "Each project's usage.", body = TenantUsageList)))]
async fn index(
    req: HttpRequest,
    caller: Caller,
    v: ApiVersion,
    state: web::Data<ComputeState>,
) -> Result<HttpResponse> {
    if !caller.is_admin() {
        return Err(ComputeError::policy("os_compute_api:os-simple-tenant-usage:list"));
    }
    let q = query(&req, v, state.max_limit)?;
    let (start, end) = (q.start, q.end);
    let records = state.storage.read(move |c| db::usage_in(c, None, start, end)).await?;
    let records = page(records, &q, state.max_limit)?;
    let mut projects: Vec<&str> = Vec::new();
    for r in &records {
        if !projects.contains(&r.project_id.as_str()) {
            projects.push(&r.project_id);
        }
    }
    let usages: Vec<Value> = projects
        .iter()
        .map(|p| {
            let mine: Vec<&UsageRecord> = records.iter().filter(|r| r.project_id == *p).collect();
            Value::Object(tenant_usage(p, &mine, &q, q.detailed))
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"tenant_usages": usages})))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        parse_time(s).unwrap()
    }

    fn record(launched: Option<&str>, terminated: Option<&str>) -> UsageRecord {
        UsageRecord {
            uuid: "u".into(),
            project_id: "p".into(),
            name: "bms".into(),
            flavor: r#"{"name":"bm.gold","vcpus":16,"ram":65536,"disk":480,"ephemeral":20}"#.into(),
            created_at: at("2026-12-01T00:00:00"),
            launched_at: launched.map(at),
            terminated_at: terminated.map(at),
            vm_state: "active".into(),
        }
    }

    #[test]
    fn hours_are_clipped_to_the_period() {
        let (start, end, now) = (at("2026-12-02T00:00:00"), at("2026-12-03T00:00:00"), at("2026-12-04T00:00:00"));
        let (h, u) = server_usage(&record(Some("2026-12-01T12:00:00"), None), start, end, now);
        assert_eq!(h, 24.0);
        assert_eq!((u["local_gb"].as_i64(), u["state"].as_str()), (Some(500), Some("active")));
        assert_eq!(u["uptime"], 2 * 86400 + 12 * 3600);
        let (h, u) = server_usage(&record(Some("2026-12-02T06:00:00"), Some("2026-12-02T07:30:00")), start, end, now);
        assert_eq!((h, u["state"].as_str()), (1.5, Some("terminated")));
        assert_eq!(server_usage(&record(None, None), start, end, now).0, 0.0, "never launched");
        assert_eq!(
            server_usage(&record(Some("2026-12-03T01:00:00"), None), start, end, now).0,
            0.0,
            "after the period"
        );
    }

    #[test]
    fn times_parse_in_novas_formats() {
        for s in ["2026-12-02T10:00:00", "2026-12-02T10:00:00.123456", "2026-12-02 10:00:00.5", "2026-12-02T10:00:00Z"]
        {
            assert!(parse_time(s).is_ok(), "{s}");
        }
        assert!(parse_time("yesterday").is_err());
    }
}
