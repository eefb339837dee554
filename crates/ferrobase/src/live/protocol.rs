//! What LiveQuery delivers: subscriptions, and the per-subscriber decision for each change event
//! (query match, ACL, CLP, `keys`, private fields), in the message shapes of Parse Server's
//! `ParseLiveQueryServer`/`Client`.

use ferrobase_core::auth::{Auth, SessionUser};
use ferrobase_core::error::code;
use ferrobase_core::events::{ChangeEvent, ChangeKind};
use ferrobase_core::matcher;
use ferrobase_core::query::{parse_where, Filter, Scalar};
use ferrobase_core::rest::{check_class_permission, client_view, Core};
use ferrobase_core::schema::{class_name_is_valid, ClassSchema, FieldType};
use ferrobase_core::types::Object;
use ferrobase_core::Error;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Fields always sent when a subscription selects `keys` (Parse's `Client.dafaultFields`).
const DEFAULT_FIELDS: &[&str] = &["className", "objectId", "updatedAt", "createdAt", "ACL"];

/// One subscription of a connection.
#[derive(Debug, Clone)]
pub struct Sub {
    pub class: String,
    pub filter: Filter,
    pub keys: Option<Vec<String>>,
    pub watch: Option<Vec<String>>,
    /// The subscription's own session token (else the connection's applies).
    pub token: Option<String>,
    pub user: Option<Arc<SessionUser>>,
    /// The CLP operation checked: `get` for a query on one objectId, else `find`.
    pub clp_op: &'static str,
}

/// What a subscription receives for an event.
#[derive(Debug)]
pub struct Outgoing {
    pub op: &'static str,
    pub object: Object,
    pub original: Option<Object>,
}

fn string_list(v: Option<&Value>, name: &str) -> Result<Option<Vec<String>>, Error> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(
            s.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect(),
        )),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::new(code::INTERNAL, format!("{name} must be strings")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Error::new(
            code::INTERNAL,
            format!("Invalid type: {name} (expected array)"),
        )),
    }
}

/// Parse's `_getCLPOperation`: `get` when the query is exactly `{objectId: "<string>"}`.
fn clp_op(where_: &Value) -> &'static str {
    match where_.as_object() {
        Some(o) if o.len() == 1 && o.get("objectId").is_some_and(Value::is_string) => "get",
        _ => "find",
    }
}

fn relation_path(schema: Option<&ClassSchema>, f: &Filter) -> Option<String> {
    let schema = schema?;
    match f {
        Filter::And(v) | Filter::Or(v) | Filter::Nor(v) => {
            v.iter().find_map(|x| relation_path(Some(schema), x))
        }
        Filter::Field { path, .. } => {
            let top = path.split('.').next().unwrap_or(path);
            matches!(schema.field(top), Some(FieldType::Relation(_))).then(|| top.to_string())
        }
        _ => None,
    }
}

/// Builds a subscription from a `subscribe`/`update` request. `conn_auth` is the connection's
/// principal (master flag, user from the `connect` token); `user` is the user of the request's
/// own token, already resolved by the caller.
pub fn subscription(
    core: &Core,
    query: &Value,
    token: Option<String>,
    user: Option<Arc<SessionUser>>,
    conn_auth: &Auth,
) -> Result<Sub, Error> {
    let q = query
        .as_object()
        .ok_or_else(|| Error::new(code::INTERNAL, "Invalid type: query (expected object)"))?;
    let class = q
        .get("className")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::new(code::INTERNAL, "Missing required property: className"))?;
    let where_ = q
        .get("where")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    if !where_.is_object() {
        return Err(Error::new(
            code::INTERNAL,
            "Invalid type: where (expected object)",
        ));
    }
    if !class_name_is_valid(class) {
        return Err(Error::new(
            code::INVALID_CLASS_NAME,
            ferrobase_core::schema::invalid_class_name_message(class),
        ));
    }
    let keys = string_list(q.get("keys"), "keys")?;
    let watch = string_list(q.get("watch"), "watch")?;
    let auth = effective_auth(conn_auth, user.as_ref());
    let schema = core.schema(class);
    let op = clp_op(&where_);
    if let Some(s) = &schema {
        check_class_permission(s, op, &auth)?;
    }
    let mut filter = parse_where(&where_)?;
    if let Some(what) = matcher::unsupported(&filter) {
        return Err(Error::invalid_query(format!(
            "LiveQuery does not support {what}"
        )));
    }
    if let Some(field) = relation_path(schema.as_deref(), &filter) {
        return Err(Error::invalid_query(format!(
            "LiveQuery does not support queries on the Relation field {field}"
        )));
    }
    if class == "_Session" && !auth.master {
        let uid = auth.user_id().ok_or_else(Error::invalid_session)?;
        filter = filter.and(Filter::eq(
            "user",
            Scalar::Pointer {
                class: "_User".into(),
                id: uid.into(),
            },
        ));
    }
    Ok(Sub {
        class: class.to_string(),
        filter,
        keys,
        watch,
        token,
        user,
        clp_op: op,
    })
}

/// The principal a subscription acts as: the connection's master flag, and the subscription's
/// user or else the connection's.
pub fn effective_auth(conn: &Auth, sub_user: Option<&Arc<SessionUser>>) -> Auth {
    Auth {
        master: conn.master,
        read_only: conn.read_only,
        user: sub_user.cloned().or_else(|| conn.user.clone()),
        installation_id: conn.installation_id.clone(),
    }
}

/// ACL principals of a subscription: Parse grants read if either the subscription's token or the
/// connection's token may read.
fn principals(conn: &Auth, sub: &Sub) -> Vec<String> {
    let mut p = conn.principals();
    if let Some(u) = &sub.user {
        let extra = Auth {
            user: Some(u.clone()),
            ..Auth::default()
        }
        .principals();
        for x in extra {
            if !p.contains(&x) {
                p.push(x);
            }
        }
    }
    p
}

fn watched_changed(watch: &[String], current: &Object, original: Option<&Object>) -> bool {
    watch.iter().any(|f| {
        let now = current.get(f).filter(|v| !v.is_null());
        let before = original.and_then(|o| o.get(f)).filter(|v| !v.is_null());
        now != before
    })
}

/// Decides what (if anything) one subscription receives for one change event.
pub fn evaluate(core: &Core, sub: &Sub, conn: &Auth, ev: &ChangeEvent) -> Option<Outgoing> {
    if ev.class != sub.class {
        return None;
    }
    let schema = core.schema(&ev.class)?;
    let auth = effective_auth(conn, sub.user.as_ref());
    let access = if auth.master {
        Filter::True
    } else {
        check_class_permission(&schema, sub.clp_op, &auth).ok()?
    };
    // The object's ACL, and pointer permissions (`readUserFields`…) when the CLP grants only those.
    let readers = Filter::ReadableBy(principals(conn, sub)).and(access);
    let readable = |o: &Object| auth.master || matcher::matches(&schema, &readers, o);
    let query_matches = |o: &Object| matcher::matches(&schema, &sub.filter, o);
    let (op, object, original) = match ev.kind {
        ChangeKind::Delete => {
            if !(query_matches(&ev.object) && readable(&ev.object)) {
                return None;
            }
            ("delete", &ev.object, None)
        }
        ChangeKind::Create => {
            if !(query_matches(&ev.object) && readable(&ev.object)) {
                return None;
            }
            if let Some(w) = &sub.watch {
                if !watched_changed(w, &ev.object, None) {
                    return None;
                }
            }
            ("create", &ev.object, None)
        }
        ChangeKind::Update => {
            let before = ev.original.as_ref();
            let before_query = before.is_some_and(query_matches);
            let before_ok = before_query && before.is_some_and(readable);
            let now_query = query_matches(&ev.object);
            let now_ok = now_query && readable(&ev.object);
            match (before_ok, now_ok) {
                (true, true) => {
                    if let Some(w) = &sub.watch {
                        if !watched_changed(w, &ev.object, before) {
                            return None;
                        }
                    }
                    ("update", &ev.object, before)
                }
                (true, false) => {
                    // Lost read access: send the last state the subscriber could read.
                    let object = if !now_query && readable(&ev.object) {
                        &ev.object
                    } else {
                        before?
                    };
                    ("leave", object, before)
                }
                (false, true) => {
                    // The state before is only sent if the subscriber could read it.
                    let original = before.filter(|b| !before_query && readable(b));
                    ("enter", &ev.object, original)
                }
                (false, false) => return None,
            }
        }
    };
    let view = |o: &Object| {
        let mut out = client_view(&schema, o.clone(), &auth, &core.config);
        out.insert("className".into(), Value::String(ev.class.clone()));
        if let Some(keys) = &sub.keys {
            out.retain(|k, _| DEFAULT_FIELDS.contains(&k.as_str()) || keys.iter().any(|x| x == k));
        }
        out
    };
    Some(Outgoing {
        op,
        object: view(object),
        original: original.map(view),
    })
}

/// A Parse LiveQuery message: `{op, clientId, installationId, requestId, …}`.
pub fn message(
    op: &str,
    client_id: &str,
    installation_id: Option<&str>,
    request_id: Option<i64>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("op".into(), Value::String(op.into()));
    m.insert("clientId".into(), Value::String(client_id.into()));
    if let Some(i) = installation_id {
        m.insert("installationId".into(), Value::String(i.into()));
    }
    if let Some(r) = request_id {
        m.insert("requestId".into(), Value::from(r));
    }
    m
}

/// `{op: "error", error, code, reconnect, requestId}` as Parse's `Client.pushError`.
pub fn error_message(code: i32, error: &str, reconnect: bool, request_id: Option<i64>) -> Value {
    serde_json::json!({
        "op": "error",
        "error": error,
        "code": code,
        "reconnect": reconnect,
        "requestId": request_id,
    })
}

/// The message text of a domain error (without the code suffix `Display` adds).
pub fn error_parts(e: &Error) -> (i32, String) {
    match e {
        Error::Parse { code, message } | Error::TransactionFailed { code, message } => {
            (*code, message.clone())
        }
        Error::Internal(_) => (code::INTERNAL, "Internal server error.".into()),
        other => (code::INTERNAL, other.to_string()),
    }
}
