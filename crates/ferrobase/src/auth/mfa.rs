//! Parse Server 9's MFA adapter, TOTP option: enrolment with `{secret, token}` (answered with
//! two recovery codes), a login that must bring `{"mfa": {"token": …}}`, single-use recovery
//! codes, re-enrolment with the `old` token. Codes are checked by `totp-rs`. (Parse's SMS option
//! calls a JavaScript `sendSMS` function, which a JSON config cannot give: it is refused.)

use async_trait::async_trait;
use ferrobase_core::auth_data::{AuthAdapter, AuthRequest, Policy, Step, Validated};
use ferrobase_core::error::{code, Error, Result};
use serde_json::{json, Map, Value};
use totp_rs::{Algorithm, Secret, TOTP};

pub struct Mfa {
    digits: usize,
    period: u64,
    algorithm: Algorithm,
}

/// Parse's adapter throws strings, which reach the client as code 141.
fn thrown(message: &str) -> Error {
    Error::new(code::SCRIPT_FAILED, message)
}

impl Mfa {
    /// Parse's `validateOptions` (the same checks and messages).
    pub fn from_options(opts: &Map<String, Value>) -> Result<Mfa, String> {
        let Some(options) = opts.get("options").and_then(Value::as_array) else {
            return Err("mfa.options must be an array".into());
        };
        let has = |o: &str| options.iter().any(|v| v == o);
        if !has("SMS") && !has("TOTP") {
            return Err("mfa.options must include SMS or TOTP".into());
        }
        if has("SMS") {
            return Err("mfa.sendSMS callback must be defined when using SMS OTPs".into());
        }
        let num = |k: &str, default: u64| match opts.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| format!("mfa.{k} must be a number")),
        };
        let digits = num("digits", 6)?;
        let period = num("period", 30)?;
        if !(4..=10).contains(&digits) {
            return Err("mfa.digits must be between 4 and 10".into());
        }
        if period < 10 {
            return Err("mfa.period must be greater than 10".into());
        }
        let algorithm = match opts
            .get("algorithm")
            .and_then(Value::as_str)
            .unwrap_or("SHA1")
        {
            "SHA1" => Algorithm::SHA1,
            "SHA256" => Algorithm::SHA256,
            "SHA512" => Algorithm::SHA512,
            other => return Err(format!("mfa.algorithm {other} is not supported")),
        };
        Ok(Mfa {
            digits: digits as usize,
            period,
            algorithm,
        })
    }

    /// Whether `token` is the code of `secret` (base32) now, or one period before or after
    /// (otpauth's default window of 1).
    fn valid(&self, secret: &str, token: &str) -> bool {
        let Ok(bytes) = Secret::Encoded(secret.to_string()).to_bytes() else {
            return false;
        };
        let totp = TOTP::new_unchecked(self.algorithm, self.digits, 1, self.period, bytes);
        totp.check_current(token).unwrap_or(false)
    }

    /// Parse's `setupTOTP`.
    fn set_up(&self, data: &Value) -> Result<Validated> {
        let secret = data
            .get("secret")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let token = data
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if secret.is_empty() || token.is_empty() || secret.len() < 20 {
            return Err(thrown("Invalid MFA data"));
        }
        if Secret::Encoded(secret.to_string()).to_bytes().is_err() {
            return Err(thrown("Invalid MFA data"));
        }
        if !self.valid(secret, token) {
            return Err(thrown("Invalid MFA token"));
        }
        let recovery = [
            ferrobase_core::types::random_string(30),
            ferrobase_core::types::random_string(30),
        ];
        Ok(Validated {
            save: Some(json!({"secret": secret, "recovery": recovery})),
            do_not_save: false,
            response: Some(json!({"recovery": recovery.join(", ")})),
        })
    }

    /// Parse's `validateLogin` (TOTP): the current code, or a recovery code (used up).
    fn login(&self, token: Option<&Value>, stored: Option<&Value>) -> Result<Validated> {
        let nothing = Validated {
            do_not_save: true,
            ..Validated::default()
        };
        let Some(token) = token.and_then(Value::as_str) else {
            return Err(thrown("Invalid MFA token"));
        };
        let Some(mfa) = stored.and_then(Value::as_object) else {
            return Ok(nothing);
        };
        let Some(secret) = mfa.get("secret").and_then(Value::as_str) else {
            return Ok(nothing);
        };
        let recovery: Vec<&Value> = mfa
            .get("recovery")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        if let Some(i) = recovery.iter().position(|c| c.as_str() == Some(token)) {
            let mut left: Vec<Value> = recovery.iter().map(|v| (*v).clone()).collect();
            left.remove(i);
            let mut save = mfa.clone();
            save.insert("recovery".into(), Value::Array(left));
            return Ok(Validated {
                save: Some(Value::Object(save)),
                ..Validated::default()
            });
        }
        if !self.valid(secret, token) {
            return Err(thrown("Invalid MFA token"));
        }
        Ok(nothing)
    }
}

#[async_trait]
impl AuthAdapter for Mfa {
    async fn validate(&self, step: Step, data: &Value, req: AuthRequest<'_>) -> Result<Validated> {
        let stored = req.stored.and_then(|s| s.get("mfa"));
        match step {
            Step::SetUp => self.set_up(data),
            Step::Login => self.login(data.get("token"), stored),
            Step::Update => {
                if req.master {
                    return Ok(Validated::keep());
                }
                self.login(data.get("old"), stored)?;
                self.set_up(data)
            }
        }
    }

    fn uses_steps(&self) -> bool {
        true
    }

    fn policy(&self, _stored: Option<&Value>) -> Policy {
        Policy::Additional
    }

    fn after_find(&self, stored: &Value, master: bool) -> Option<Value> {
        if master {
            return None;
        }
        let enabled = stored.get("secret").is_some_and(|s| !s.is_null());
        Some(json!({"status": if enabled { "enabled" } else { "disabled" }}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mfa() -> Result<Mfa, String> {
        Mfa::from_options(
            &serde_json::from_value(json!({"options": ["TOTP"]})).map_err(|e| e.to_string())?,
        )
    }

    #[test]
    fn enrolment_and_recovery() -> Result<(), String> {
        let m = mfa()?;
        let secret = "JBSWY3DPEHPK3PXPJBSWY3DP";
        let bytes = Secret::Encoded(secret.into())
            .to_bytes()
            .map_err(|e| format!("{e:?}"))?;
        let code = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes)
            .generate_current()
            .map_err(|e| e.to_string())?;
        assert!(m
            .set_up(&json!({"secret": secret, "token": "000000x"}))
            .is_err());
        assert!(m
            .set_up(&json!({"secret": "SHORT", "token": code}))
            .is_err());
        let v = m
            .set_up(&json!({"secret": secret, "token": code}))
            .map_err(|e| e.to_string())?;
        let saved = v.save.ok_or("saved")?;
        let rec = saved["recovery"][0].as_str().ok_or("code")?.to_string();
        let used = m
            .login(Some(&json!(rec)), Some(&saved))
            .map_err(|e| e.to_string())?;
        let left = used.save.ok_or("left")?;
        assert_eq!(left["recovery"].as_array().map(Vec::len), Some(1));
        assert!(
            m.login(Some(&json!(rec)), Some(&left)).is_err(),
            "used once"
        );
        assert!(m.login(Some(&json!(code)), Some(&left)).is_ok());
        assert!(m.login(None, Some(&left)).is_err());
        assert_eq!(
            m.after_find(&left, false),
            Some(json!({"status": "enabled"}))
        );
        assert_eq!(m.after_find(&left, true), None);
        Ok(())
    }
}
