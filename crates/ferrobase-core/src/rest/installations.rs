//! `_Installation` writes with Parse's rules (RestWrite.js `handleInstallation` and
//! InstallationDedup.js, default options): an installation is found by `objectId`,
//! `installationId` (lower-cased; from `X-Parse-Installation-Id` when the body has none) or
//! `deviceToken`; a create that finds one becomes an update of it, `deviceType` is required on
//! create and may not change, and rows that conflict on `deviceToken` are removed.

use super::{Core, Ctx};
use crate::error::{code, Error, Result};
use crate::query::{Cond, Filter, Scalar, StoreQuery};
use crate::types::Object;
use serde_json::Value;

const CLASS: &str = "_Installation";

/// A truthy string field of a body or stored object (what Parse's `if (this.data.x)` tests).
fn text<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn field<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

fn id_of(o: &Object) -> String {
    field(o, "objectId").unwrap_or_default().to_string()
}

fn changed(message: &str) -> Error {
    Error::new(
        136,
        format!("{message} may not be changed in this operation"),
    )
}

impl Core {
    /// Parse's `handleInstallation`: normalises the body and decides which object the write
    /// goes to. `query_id` is the object of an update. Returns the object the write must update
    /// instead (a create becomes an update), or `None` to go on as asked.
    pub(super) async fn resolve_installation(
        &self,
        ctx: &Ctx,
        query_id: Option<&str>,
        body: &mut Object,
    ) -> Result<Option<String>> {
        if query_id.is_none()
            && text(body, "deviceToken").is_none()
            && text(body, "installationId").is_none()
            && ctx
                .auth
                .installation_id
                .as_deref()
                .is_none_or(str::is_empty)
        {
            return Err(Error::new(
                135,
                "at least one ID field (deviceToken, installationId) must be specified in this operation",
            ));
        }
        // An iOS device token (64 characters) and the installation id are lower-cased.
        if let Some(t) = text(body, "deviceToken").filter(|t| t.chars().count() == 64) {
            let lower = t.to_lowercase();
            body.insert("deviceToken".into(), Value::String(lower));
        }
        if let Some(i) = text(body, "installationId") {
            let lower = i.to_lowercase();
            body.insert("installationId".into(), Value::String(lower));
        }
        let mut installation_id = text(body, "installationId").map(str::to_string);
        if installation_id.is_none() && !ctx.auth.master {
            installation_id = ctx
                .auth
                .installation_id
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase);
        }
        let device_token = text(body, "deviceToken").map(str::to_string);
        let device_type = body.get("deviceType").filter(|v| truthy(v)).cloned();
        // An update that touches nothing that identifies the installation.
        if query_id.is_some()
            && device_token.is_none()
            && installation_id.is_none()
            && device_type.is_none()
        {
            return Ok(None);
        }
        let mut or = Vec::new();
        if let Some(id) = query_id {
            or.push(Filter::object_id(id));
        }
        if let Some(i) = &installation_id {
            or.push(Filter::eq("installationId", Scalar::String(i.clone())));
        }
        if let Some(t) = &device_token {
            or.push(Filter::eq("deviceToken", Scalar::String(t.clone())));
        }
        if or.is_empty() {
            return Ok(None);
        }
        let results = match self.schema_fresh(CLASS).await {
            Some(schema) => {
                self.store
                    .find(&schema, &StoreQuery::filter(Filter::Or(or)), ctx.tx)
                    .await?
            }
            None => Vec::new(),
        };
        let mut object_id_match = None;
        let mut installation_id_match = None;
        let mut device_token_matches = Vec::new();
        for r in &results {
            if query_id.is_some_and(|q| field(r, "objectId") == Some(q)) {
                object_id_match = Some(r);
            }
            // As in Parse, an absent value equals an absent value here.
            if field(r, "installationId") == installation_id.as_deref() {
                installation_id_match = Some(r);
            }
            if field(r, "deviceToken") == device_token.as_deref() {
                device_token_matches.push(r);
            }
        }
        let mut id_match = None;
        if query_id.is_some() {
            let Some(existing) = object_id_match else {
                return Err(Error::new(
                    code::OBJECT_NOT_FOUND,
                    "Object not found for update.",
                ));
            };
            let data_installation = text(body, "installationId");
            if let (Some(new), Some(old)) = (data_installation, text(existing, "installationId")) {
                if new != old {
                    return Err(changed("installationId"));
                }
            }
            if let (Some(new), Some(old)) = (&device_token, text(existing, "deviceToken")) {
                if new != old
                    && data_installation.is_none()
                    && text(existing, "installationId").is_none()
                {
                    return Err(changed("deviceToken"));
                }
            }
            if let Some(t) = &device_type {
                if existing.get("deviceType") != Some(t) {
                    return Err(changed("deviceType"));
                }
            }
            id_match = Some(existing);
        }
        if installation_id.is_some() && installation_id_match.is_some() {
            id_match = installation_id_match;
        }
        if query_id.is_none() && device_type.is_none() && id_match.is_none() {
            return Err(Error::new(
                135,
                "deviceType must be specified in this operation",
            ));
        }
        let target = match id_match {
            None => match device_token_matches.as_slice() {
                [] => None,
                [one] if text(one, "installationId").is_none() || installation_id.is_none() => {
                    Some(id_of(one))
                }
                _ if text(body, "installationId").is_none() => {
                    return Err(Error::new(
                        132,
                        "Must specify installationId when deviceToken matches multiple Installation objects",
                    ))
                }
                _ => {
                    // A new installation claims the device token: the others holding it go.
                    let mut f = token_filter(device_token.as_deref()).and(Filter::Field {
                        path: "installationId".into(),
                        cond: Cond::Ne(scalar(installation_id.as_deref())),
                    });
                    if let Some(app) = text(body, "appIdentifier") {
                        f = f.and(Filter::eq("appIdentifier", Scalar::String(app.into())));
                    }
                    self.delete_installations(ctx, f).await?;
                    None
                }
            },
            Some(found) => match device_token_matches.as_slice() {
                [one] if text(one, "installationId").is_none() => {
                    // The same install twice: the row holding the device token survives.
                    if id_of(found) != id_of(one) {
                        self.delete_installations(ctx, Filter::object_id(&id_of(found)))
                            .await?;
                    }
                    Some(id_of(one))
                }
                _ => {
                    let found_id = id_of(found);
                    if device_token.is_some() && field(found, "deviceToken") != device_token.as_deref()
                    {
                        let mut f = token_filter(device_token.as_deref());
                        if let Some(i) = text(body, "installationId") {
                            f = f.and(Filter::Field {
                                path: "installationId".into(),
                                cond: Cond::Ne(Scalar::String(i.into())),
                            });
                        } else if text(body, "objectId") == Some(found_id.as_str()) {
                            f = f.and(Filter::Field {
                                path: "objectId".into(),
                                cond: Cond::Ne(Scalar::String(found_id.clone())),
                            });
                        } else {
                            return Ok(Some(found_id));
                        }
                        if let Some(app) = text(body, "appIdentifier") {
                            f = f.and(Filter::eq("appIdentifier", Scalar::String(app.into())));
                        }
                        self.delete_installations(ctx, f).await?;
                    }
                    Some(found_id)
                }
            },
        };
        if target.is_some() {
            body.remove("objectId");
            body.remove("createdAt");
        }
        Ok(target)
    }

    /// Removes conflicting installations (Parse's default `duplicateDeviceTokenAction`).
    async fn delete_installations(&self, ctx: &Ctx, filter: Filter) -> Result<()> {
        if let Some(schema) = self.schema(CLASS) {
            let n = self.store_delete(ctx, &schema, &filter).await?;
            tracing::debug!(removed = n, "installation dedup");
        }
        Ok(())
    }
}

fn scalar(s: Option<&str>) -> Scalar {
    s.map_or(Scalar::Null, |s| Scalar::String(s.into()))
}

fn token_filter(token: Option<&str>) -> Filter {
    match token {
        Some(t) => Filter::eq("deviceToken", Scalar::String(t.into())),
        None => Filter::Field {
            path: "deviceToken".into(),
            cond: Cond::Exists(false),
        },
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => true,
    }
}
