//! Short-lived signed download tokens for protected files (`--protected-files`): a file's URL
//! carries `?token=<expiry>.<hmac>` only when it is handed to someone who may read an object that
//! references it, so files of objects a user cannot read are out of reach.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct FileTokens {
    key: Vec<u8>,
    pub ttl_secs: i64,
}

impl std::fmt::Debug for FileTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileTokens")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl FileTokens {
    pub fn new(key: &[u8], ttl_secs: i64) -> FileTokens {
        FileTokens {
            key: key.to_vec(),
            ttl_secs,
        }
    }

    fn mac(&self, name: &str, expires: i64) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.key).ok()?;
        mac.update(name.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        Some(mac)
    }

    /// A token for `name`, valid for the configured time.
    pub fn sign(&self, name: &str) -> String {
        let expires = chrono::Utc::now().timestamp() + self.ttl_secs;
        let sig = self
            .mac(name, expires)
            .map(|m| hex::encode(m.finalize().into_bytes()))
            .unwrap_or_default();
        format!("{expires}.{sig}")
    }

    /// Whether `token` was made by `sign` for `name` and has not expired (constant-time check).
    pub fn verify(&self, name: &str, token: &str) -> bool {
        let Some((exp, sig)) = token.split_once('.') else {
            return false;
        };
        let Ok(expires) = exp.parse::<i64>() else {
            return false;
        };
        if expires < chrono::Utc::now().timestamp() {
            return false;
        }
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        self.mac(name, expires)
            .is_some_and(|m| m.verify_slice(&sig).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = FileTokens::new(b"secret", 60);
        let tok = t.sign("a.png");
        assert!(t.verify("a.png", &tok));
        assert!(!t.verify("b.png", &tok));
        assert!(!FileTokens::new(b"other", 60).verify("a.png", &tok));
        let expired = FileTokens::new(b"secret", -5).sign("a.png");
        assert!(!t.verify("a.png", &expired));
        assert!(!t.verify("a.png", "garbage"));
    }
}
