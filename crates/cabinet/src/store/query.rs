//! What list and count answer whatever the backend, where the two stores would otherwise each spell it:
//! `sqlite/query.rs` and `postgres/query.rs` serve list and count through their own statements and share
//! these answers.

use super::StoreError;
use crate::domain::{Invalid, GEO_TEST_BUDGET};

/// The answer to a count whose spatial condition needs more geometry tests than one request may run: a
/// count cannot end early with a cursor as a list page does, so it is refused, saying how to narrow it.
pub(crate) fn geo_count_refused() -> StoreError {
    StoreError::Invalid(Invalid::new(
        "filter.geoLocation",
        format!(
            "counting needs more than {} s of geometry tests; use a smaller shape or more conditions",
            GEO_TEST_BUDGET.as_secs()
        ),
    ))
}
