//! [`Shared`]: a header value of a compiled policy, made once and shared
//! by every answer.

use bytes::Bytes;
use http::HeaderValue;

#[cfg(feature = "actix")]
use actix_web::http::header::HeaderValue as ActixValue;

/// A header value of a compiled policy (the allowed methods and headers,
/// the exposed headers, the max age): built once, then cloned into each
/// answer — a reference count, not a copy. With the `actix` feature it is
/// also held in actix-web's own form (`http` 0.2), over the same bytes, so
/// the actix middleware writes it without copying and allocating per
/// request either (docs/benchmarks.md: about 400 instructions a value).
/// Rules hold these; a [`Decision`](crate::Decision) holds only its rule,
/// so its size does not grow with them.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    http: HeaderValue,
    #[cfg(feature = "actix")]
    actix: ActixValue,
}

/// `*`, what `Access-Control-Allow-Origin` holds for allow-all without
/// credentials.
pub(crate) static STAR: Shared = Shared::from_static("*");

impl Shared {
    /// A value known when the crate is built.
    pub(crate) const fn from_static(text: &'static str) -> Self {
        Self {
            http: HeaderValue::from_static(text),
            #[cfg(feature = "actix")]
            actix: ActixValue::from_static(text),
        }
    }

    /// A value of the compiled policy; `None` if `text` is not a valid
    /// header value. One buffer, for both forms.
    pub(crate) fn new(text: &str) -> Option<Self> {
        let bytes = Bytes::copy_from_slice(text.as_bytes());
        Some(Self {
            #[cfg(feature = "actix")]
            actix: ActixValue::from_maybe_shared(bytes.clone()).ok()?,
            http: HeaderValue::from_maybe_shared(bytes).ok()?,
        })
    }

    /// The value as `http` 1's.
    pub(crate) fn http(&self) -> &HeaderValue {
        &self.http
    }

    /// The value as actix-web's.
    #[cfg(feature = "actix")]
    pub(crate) fn actix(&self) -> &ActixValue {
        &self.actix
    }
}

#[cfg(test)]
mod tests {
    use super::Shared;

    #[test]
    fn both_forms_hold_the_same_bytes_in_one_buffer() {
        let value = Shared::new("content-type, x-csrftoken").unwrap();
        let http = value.http().as_bytes();
        assert_eq!(http, b"content-type, x-csrftoken");
        #[cfg(feature = "actix")]
        {
            let actix = value.actix().as_bytes();
            assert_eq!(actix, http);
            assert_eq!(actix.as_ptr(), http.as_ptr());
        }
        assert!(Shared::new("a\nb").is_none());
        assert_eq!(Shared::from_static("*").http(), "*");
    }

    /// A decision is moved a few times per request; above 128 bytes it is
    /// moved by `memcpy` calls, and a larger decision made the tower
    /// layer's code around it too large to inline into its caller (both
    /// measured: +60 to +380 instructions a request).
    #[test]
    fn a_decision_stays_small() {
        assert!(std::mem::size_of::<crate::Decision>() <= 96);
    }
}
