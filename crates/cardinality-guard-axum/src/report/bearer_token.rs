//! The secret of a token-guarded `POST` reload.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A secret for [`ReloadOnPost::with_token`](super::ReloadOnPost::with_token): at least
/// [`MIN_LEN`](Self::MIN_LEN) visible ASCII characters (no spaces), as a
/// bearer token in a header can be. Its `Debug` never shows it.
///
/// ```
/// use cardinality_guard_axum::{BearerToken, TokenError};
///
/// assert!(matches!("secret".parse::<BearerToken>(), Err(TokenError::TooShort { length: 6 })));
/// assert!("0123456789abcdef0123456789abcdef".parse::<BearerToken>().is_ok());
/// ```
#[derive(Clone)]
pub struct BearerToken(Arc<str>);

impl BearerToken {
    /// The shortest token taken: 32 characters (e.g. 16 random bytes in
    /// hex: `openssl rand -hex 16`).
    pub const MIN_LEN: usize = 32;

    /// Checks `token`.
    ///
    /// # Errors
    /// [`TokenError`] when it is shorter than [`MIN_LEN`](Self::MIN_LEN) or
    /// holds a character other than visible ASCII.
    pub fn new(token: impl Into<String>) -> Result<Self, TokenError> {
        let token = token.into();
        if let Some(position) = token.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(TokenError::InvalidCharacter { position });
        }
        if token.len() < Self::MIN_LEN {
            return Err(TokenError::TooShort {
                length: token.len(),
            });
        }
        Ok(BearerToken(token.into()))
    }

    /// Whether `presented` is this token, in a time that depends on this
    /// token's length only.
    pub(super) fn matches(&self, presented: &[u8]) -> bool {
        let expected = self.0.as_bytes();
        let mut diff = expected.len() ^ presented.len();
        for (i, byte) in expected.iter().enumerate() {
            diff |= usize::from(byte ^ presented.get(i).copied().unwrap_or(0));
        }
        std::hint::black_box(diff) == 0
    }
}

impl FromStr for BearerToken {
    type Err = TokenError;

    fn from_str(token: &str) -> Result<Self, TokenError> {
        BearerToken::new(token)
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Why a [`BearerToken`] was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Shorter than [`BearerToken::MIN_LEN`].
    TooShort {
        /// Its length, in bytes.
        length: usize,
    },
    /// A byte that is not visible ASCII (a space, a control character,
    /// anything beyond ASCII).
    InvalidCharacter {
        /// Its offset, in bytes.
        position: usize,
    },
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::TooShort { length } => write!(
                f,
                "reload token too short: {length} characters, at least {} needed",
                BearerToken::MIN_LEN
            ),
            TokenError::InvalidCharacter { position } => write!(
                f,
                "reload token: the character at byte {position} is not visible ASCII"
            ),
        }
    }
}

impl std::error::Error for TokenError {}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_are_long_visible_ascii_and_never_shown() {
        assert_eq!(
            BearerToken::new(&TOKEN[..31]).unwrap_err(),
            TokenError::TooShort { length: 31 }
        );
        assert_eq!(
            BearerToken::new(format!("{TOKEN} x")).unwrap_err(),
            TokenError::InvalidCharacter { position: 32 }
        );
        assert!(BearerToken::new(format!("{TOKEN}é")).is_err());
        let token = BearerToken::new(TOKEN).unwrap();
        assert!(!format!("{token:?}").contains("0123"));
        let endpoint = super::super::ReloadOnPost::with_token("guard.toml", token);
        assert!(!format!("{endpoint:?}").contains("0123"));
    }
}
