//! The application id and master key: given by the operator, or generated on first start and
//! kept in the data dir (`keys.json`, readable by the owner only).

use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Serialize, Deserialize)]
struct Keys {
    #[serde(rename = "appId")]
    app_id: String,
    #[serde(rename = "masterKey")]
    master_key: String,
}

/// Resolved keys, and whether they were generated just now (so the caller prints them once).
pub struct ResolvedKeys {
    pub app_id: String,
    pub master_key: String,
    pub generated: bool,
}

pub fn resolve(
    data_dir: &Path,
    app_id: Option<String>,
    master_key: Option<String>,
) -> Result<ResolvedKeys, String> {
    if let (Some(a), Some(m)) = (&app_id, &master_key) {
        return Ok(ResolvedKeys {
            app_id: a.clone(),
            master_key: m.clone(),
            generated: false,
        });
    }
    let file = data_dir.join("keys.json");
    let stored: Option<Keys> = match std::fs::read_to_string(&file) {
        Ok(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is not valid: {e}", file.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    let (keys, generated) = match stored {
        Some(k) => (k, false),
        None => {
            let k = Keys {
                app_id: ferrobase_core::types::random_string(24),
                master_key: ferrobase_core::types::random_hex(24),
            };
            write_private(
                &file,
                &serde_json::to_string_pretty(&k).map_err(|e| e.to_string())?,
            )?;
            (k, true)
        }
    };
    Ok(ResolvedKeys {
        app_id: app_id.unwrap_or(keys.app_id),
        master_key: master_key.unwrap_or(keys.master_key),
        generated,
    })
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
