//! Which files one request may touch: the `filesAcl` grant for its action (data sets) together with the
//! caller's security-category membership. Every single-file check of the API and the store goes through
//! [`FileScope::covers`], so that no route checks one and forgets the other.

use super::capability::FilesAccess;
use super::categories::CategoryAccess;
use crate::domain::FileRecord;

/// The files a caller may act on with one `filesAcl` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileScope {
    /// The `filesAcl` grant for the action: `all`, some data sets, or nothing.
    pub data_sets: FilesAccess,
    /// The caller's `securityCategoriesAcl` `MEMBEROF`.
    pub categories: CategoryAccess,
}

impl FileScope {
    /// Every file: open mode, and the store's own unscoped methods.
    pub fn all() -> Self {
        Self {
            data_sets: FilesAccess::All,
            categories: CategoryAccess::All,
        }
    }

    /// Whether it covers `file`: both its data set and every one of its categories.
    pub fn covers(&self, file: &FileRecord) -> bool {
        self.covers_parts(file.data_set_id, &file.security_categories)
    }

    /// [`FileScope::covers`] for a file that is not built yet (a create).
    pub fn covers_parts(&self, data_set: Option<i64>, categories: &[i64]) -> bool {
        self.data_sets.covers(data_set) && self.categories.covers(categories)
    }

    /// Whether it covers every file of the project: then nothing needs checking.
    pub fn is_unrestricted(&self) -> bool {
        self.data_sets == FilesAccess::All && self.categories == CategoryAccess::All
    }

    /// Whether an unknown identifier must be refused like a file outside the scope (403) rather than
    /// reported as `missing`: for a data-set-scoped caller, whose every unknown file could be one of
    /// another data set. A caller with `filesAcl` `all` keeps `missing` for unknown files, as on CDF, so
    /// that the SDKs' "retrieve or `None`" keeps working for the usual principal that is a member of no
    /// category; a file hidden from it by a category is still a 403.
    pub fn hides_unknown(&self) -> bool {
        self.data_sets != FilesAccess::All
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_needs_both_its_data_set_and_all_its_categories() {
        let scope = FileScope {
            data_sets: FilesAccess::DataSets([1].into()),
            categories: CategoryAccess::Only([7].into()),
        };
        assert!(scope.covers_parts(Some(1), &[]));
        assert!(scope.covers_parts(Some(1), &[7]));
        assert!(!scope.covers_parts(Some(1), &[7, 8]));
        assert!(!scope.covers_parts(Some(2), &[7]));
        assert!(!scope.covers_parts(None, &[]));
        assert!(!scope.is_unrestricted());
        assert!(FileScope::all().is_unrestricted());
        assert!(FileScope::all().covers_parts(None, &[1, 2]));
        let files_all = FileScope {
            data_sets: FilesAccess::All,
            categories: CategoryAccess::default(),
        };
        assert!(!files_all.is_unrestricted() && !files_all.hides_unknown());
        assert!(scope.hides_unknown());
        assert!(files_all.covers_parts(None, &[]) && !files_all.covers_parts(None, &[1]));
    }
}
