//! [`Shared`]: a header value a decision writes, made once and shared by
//! every answer.

#[cfg(feature = "actix")]
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;

#[cfg(feature = "actix")]
use actix_web::http::header::HeaderValue as ActixValue;

/// A header value a decision writes: built when the policy is compiled (or
/// taken from the request's `Origin`), then cloned into each answer — a
/// reference count, not a copy. With the `actix` feature it is also held in
/// actix-web's own form (`http` 0.2), over the same bytes, so the actix
/// middleware writes it without copying and allocating per request either
/// (docs/benchmarks.md: about 400 instructions a value). That form is
/// behind an `Arc`: a [`Decision`](crate::Decision) carries one of these,
/// and at 40 bytes more it crossed the size above which it is moved by
/// `memcpy` calls (+250 to +380 instructions on every request through the
/// tower layer, measured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shared {
    http: HeaderValue,
    /// `None` only for a value taken from an `http` 1 request, which the
    /// actix middleware copies when it must write it (an origin check's).
    #[cfg(feature = "actix")]
    actix: Option<Arc<ActixValue>>,
}

impl Shared {
    /// A value known when the crate is built.
    pub(crate) fn from_static(text: &'static str) -> Self {
        Self {
            http: HeaderValue::from_static(text),
            #[cfg(feature = "actix")]
            actix: Some(Arc::new(ActixValue::from_static(text))),
        }
    }

    /// A value of the compiled policy; `None` if `text` is not a valid
    /// header value. One buffer, for both forms.
    pub(crate) fn new(text: &str) -> Option<Self> {
        let bytes = Bytes::copy_from_slice(text.as_bytes());
        Some(Self {
            #[cfg(feature = "actix")]
            actix: Some(Arc::new(ActixValue::from_maybe_shared(bytes.clone()).ok()?)),
            http: HeaderValue::from_maybe_shared(bytes).ok()?,
        })
    }

    /// A request's `http` 1 value, shared as it is.
    pub(crate) fn from_http(value: &HeaderValue) -> Self {
        Self {
            http: value.clone(),
            #[cfg(feature = "actix")]
            actix: None,
        }
    }

    /// An actix request's value: shared as it is for actix's response, and
    /// copied once for the `http` 1 form every decision has.
    #[cfg(feature = "actix")]
    pub(crate) fn from_actix(value: &ActixValue) -> Self {
        Self {
            // Any byte actix accepted in a value, `http` 1 accepts too.
            http: HeaderValue::from_bytes(value.as_bytes())
                .unwrap_or_else(|_| HeaderValue::from_static("")),
            actix: Some(Arc::new(value.clone())),
        }
    }

    /// The value as `http` 1's.
    pub(crate) fn http(&self) -> &HeaderValue {
        &self.http
    }

    /// The value as actix-web's, if made.
    #[cfg(feature = "actix")]
    pub(crate) fn actix(&self) -> Option<&ActixValue> {
        self.actix.as_deref()
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
            let actix = value.actix().unwrap().as_bytes();
            assert_eq!(actix, http);
            assert_eq!(actix.as_ptr(), http.as_ptr());
        }
        assert!(Shared::new("a\nb").is_none());
        assert_eq!(Shared::from_static("*").http(), "*");
    }

    /// A decision is moved a few times per request; above 128 bytes it is
    /// moved by `memcpy` calls, which cost the tower layer 250 to 380
    /// instructions a request when the actix form was held inline here.
    #[test]
    fn a_decision_stays_small_enough_to_move_inline() {
        assert!(std::mem::size_of::<crate::Decision>() <= 112);
        assert!(std::mem::size_of::<Shared>() <= 48);
    }
}
