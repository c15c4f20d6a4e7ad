use super::Invalid;

/// A project's URL name: 3 to 32 letters, digits and hyphens, at least one letter, no hyphen at either end
/// (the CDF `ProjectUrlName`). Projects come into existence on first write and never see each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectName(String);

impl ProjectName {
    /// Parses a project name from a request path.
    pub fn parse(name: &str) -> Result<Self, Invalid> {
        let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let has_letter = name.chars().any(|c| c.is_ascii_alphabetic());
        if !(3..=32).contains(&name.len())
            || !valid_chars
            || !has_letter
            || name.starts_with('-')
            || name.ends_with('-')
        {
            return Err(Invalid::new(
                "project",
                "must be 3 to 32 letters, digits or hyphens, with at least one letter and no hyphen at either end",
            ));
        }
        Ok(Self(name.to_string()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_cdf_project_names() {
        for name in ["abc", "my-project", "a1b2", "test", "x2y"] {
            assert!(ProjectName::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn rejects_names_outside_the_cdf_pattern() {
        for name in [
            "ab",
            "-abc",
            "abc-",
            "123",
            "a_b",
            "ABC DEF",
            &"a".repeat(33),
        ] {
            assert!(ProjectName::parse(name).is_err(), "{name}");
        }
    }
}
