use std::collections::BTreeMap;

use super::*;

/// Custom string-to-string metadata of a file.
pub type Metadata = BTreeMap<String, String>;

/// A label reference: the externalId of a label definition.
pub type Label = String;

/// Where a file's current content lives in the blob store, and how big it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentRef {
    /// The blob key: unique for every upload that ever completed, so it also serves as the ETag.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// The writable fields of a file as a create (or overwrite) request gives them. `None` means the field
/// was absent from the request, which matters for overwrite: absent fields keep their old value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileSpec {
    /// Required; at most 256 characters (the spec sets no lower bound, so an empty name is accepted).
    pub name: String,
    /// Unique among the project's files.
    pub external_id: Option<String>,
    /// An absolute unix-style path.
    pub directory: Option<String>,
    /// The source system.
    pub source: Option<String>,
    /// The content type, echoed as Content-Type on download.
    pub mime_type: Option<String>,
    /// Custom metadata; on overwrite it replaces the old map whole.
    pub metadata: Option<Metadata>,
    /// Linked assets; on overwrite, absent means keep the current links.
    pub asset_ids: Option<Vec<i64>>,
    /// The data set the file belongs to.
    pub data_set_id: Option<i64>,
    /// When the file was created in its source system (ms since epoch).
    pub source_created_time: Option<i64>,
    /// When the file was last modified in its source system (ms since epoch).
    pub source_modified_time: Option<i64>,
    /// Security categories needed to access the file.
    pub security_categories: Option<Vec<i64>>,
    /// Labels, by externalId.
    pub labels: Option<Vec<Label>>,
    /// A GeoJSON Feature, checked when it was parsed.
    pub geo_location: Option<GeoLocation>,
}

impl FileSpec {
    /// Checks every limit of spec §2.3, naming the first field that breaks one. (The geoLocation was
    /// checked when it became a [`GeoLocation`].)
    pub fn validate(&self) -> Result<(), Invalid> {
        check_name(&self.name)?;
        if let Some(x) = &self.external_id {
            check_external_id("externalId", x)?;
        }
        if let Some(d) = &self.directory {
            check_directory(d)?;
        }
        check_max_chars("source", self.source.as_deref(), MAX_SOURCE)?;
        check_max_chars("mimeType", self.mime_type.as_deref(), MAX_MIME_TYPE)?;
        if let Some(m) = &self.metadata {
            check_metadata(m)?;
        }
        if let Some(a) = &self.asset_ids {
            if a.is_empty() {
                return Err(Invalid::new(
                    "assetIds",
                    "must have 1 to 1000 items when given",
                ));
            }
            check_id_list("assetIds", a, MAX_ASSET_IDS)?;
        }
        if let Some(d) = self.data_set_id {
            check_id("dataSetId", d)?;
        }
        check_time("sourceCreatedTime", self.source_created_time)?;
        check_time("sourceModifiedTime", self.source_modified_time)?;
        if let Some(s) = &self.security_categories {
            check_id_list("securityCategories", s, MAX_SECURITY_CATEGORIES)?;
        }
        if let Some(l) = &self.labels {
            check_labels("labels", l)?;
        }
        Ok(())
    }
}

/// A stored file: its metadata, and a reference to its content once an upload completed.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRecord {
    /// Server-assigned, unique, never reused.
    pub id: i64,
    /// Unique among the project's files.
    pub external_id: Option<String>,
    /// The file name.
    pub name: String,
    /// An absolute unix-style path.
    pub directory: Option<String>,
    /// The source system.
    pub source: Option<String>,
    /// The content type.
    pub mime_type: Option<String>,
    /// Custom metadata.
    pub metadata: Metadata,
    /// Linked assets.
    pub asset_ids: Vec<i64>,
    /// The data set.
    pub data_set_id: Option<i64>,
    /// Creation time in the source system.
    pub source_created_time: Option<i64>,
    /// Modification time in the source system.
    pub source_modified_time: Option<i64>,
    /// Security categories.
    pub security_categories: Vec<i64>,
    /// Labels, by externalId.
    pub labels: Vec<Label>,
    /// A GeoJSON Feature.
    pub geo_location: Option<GeoLocation>,
    /// When the file was created here (ms since epoch); kept on overwrite.
    pub created_time: i64,
    /// When metadata or content last changed.
    pub last_updated_time: i64,
    /// When the current content's upload completed.
    pub uploaded_time: Option<i64>,
    /// The current content; `None` until the first upload completes.
    pub content: Option<ContentRef>,
}

impl FileRecord {
    /// A file is uploaded once it has durable content.
    pub fn uploaded(&self) -> bool {
        self.content.is_some()
    }

    /// Applies a create body to an existing file, as `overwrite=true` does: the name and every field present
    /// in the body replace the old values, absent fields are kept, and the id, createdTime and content stay.
    pub fn overwrite_with(&mut self, spec: FileSpec, now: i64) {
        self.name = spec.name;
        if spec.external_id.is_some() {
            self.external_id = spec.external_id;
        }
        macro_rules! replace {
            ($($field:ident),*) => { $( if let Some(v) = spec.$field { self.$field = Some(v); } )* };
        }
        replace!(
            directory,
            source,
            mime_type,
            data_set_id,
            source_created_time,
            source_modified_time,
            geo_location
        );
        macro_rules! replace_collection {
            ($($field:ident),*) => { $( if let Some(v) = spec.$field { self.$field = v; } )* };
        }
        replace_collection!(metadata, asset_ids, security_categories, labels);
        self.last_updated_time = now;
    }

    /// A new file from a create body.
    pub fn from_spec(id: i64, spec: FileSpec, now: i64) -> Self {
        FileRecord {
            id,
            external_id: spec.external_id,
            name: spec.name,
            directory: spec.directory,
            source: spec.source,
            mime_type: spec.mime_type,
            metadata: spec.metadata.unwrap_or_default(),
            asset_ids: spec.asset_ids.unwrap_or_default(),
            data_set_id: spec.data_set_id,
            source_created_time: spec.source_created_time,
            source_modified_time: spec.source_modified_time,
            security_categories: spec.security_categories.unwrap_or_default(),
            labels: spec.labels.unwrap_or_default(),
            geo_location: spec.geo_location,
            created_time: now,
            last_updated_time: now,
            uploaded_time: None,
            content: None,
        }
    }
}

/// The name: at most 256 characters.
pub fn check_name(name: &str) -> Result<(), Invalid> {
    check_max_chars("name", Some(name), MAX_NAME)
}

/// An externalId: 1 to 255 characters.
pub fn check_external_id(field: &str, x: &str) -> Result<(), Invalid> {
    if x.is_empty() || x.chars().count() > MAX_EXTERNAL_ID {
        return Err(Invalid::new(
            field,
            format!("must be 1 to {MAX_EXTERNAL_ID} characters"),
        ));
    }
    Ok(())
}

/// A directory: an absolute unix-style path of at most 512 characters.
pub fn check_directory(d: &str) -> Result<(), Invalid> {
    check_max_chars("directory", Some(d), MAX_DIRECTORY)?;
    if !d.starts_with('/') {
        return Err(Invalid::new(
            "directory",
            "must be an absolute unix-style path starting with '/'",
        ));
    }
    Ok(())
}

/// A string field of at most `max` characters.
pub fn check_max_chars(field: &str, value: Option<&str>, max: usize) -> Result<(), Invalid> {
    match value {
        Some(v) if v.chars().count() > max => Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        )),
        _ => Ok(()),
    }
}

/// An id: 1..=2^53−1.
pub fn check_id(field: &str, id: i64) -> Result<(), Invalid> {
    if !(1..=MAX_ID).contains(&id) {
        return Err(Invalid::new(
            field,
            format!("must be between 1 and {MAX_ID}"),
        ));
    }
    Ok(())
}

/// A timestamp in ms since the epoch: not negative.
pub fn check_time(field: &str, t: Option<i64>) -> Result<(), Invalid> {
    match t {
        Some(t) if t < 0 => Err(Invalid::new(field, "must be at least 0")),
        _ => Ok(()),
    }
}

/// A list of ids: at most `max` items, each 1..=2^53−1.
pub fn check_id_list(field: &str, ids: &[i64], max: usize) -> Result<(), Invalid> {
    if ids.len() > max {
        return Err(Invalid::new(
            field,
            format!("must have at most {max} items"),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        check_id(&format!("{field}[{i}]"), *id)?;
    }
    Ok(())
}

/// Labels: at most 10, unique, each externalId 1 to 255 characters.
pub fn check_labels(field: &str, labels: &[Label]) -> Result<(), Invalid> {
    if labels.len() > MAX_LABELS {
        return Err(Invalid::new(
            field,
            format!("must have at most {MAX_LABELS} items"),
        ));
    }
    for (i, l) in labels.iter().enumerate() {
        check_external_id(&format!("{field}[{i}].externalId"), l)?;
        if labels[..i].contains(l) {
            return Err(Invalid::new(
                format!("{field}[{i}]"),
                format!("label '{l}' is given twice"),
            ));
        }
    }
    Ok(())
}

/// Metadata: keys of at most 128 bytes, values of at most 10240 bytes, at most 256 pairs, and at most
/// 10240 bytes of keys and values together.
pub fn check_metadata(m: &Metadata) -> Result<(), Invalid> {
    if m.len() > MAX_METADATA_PAIRS {
        return Err(Invalid::new(
            "metadata",
            format!("must have at most {MAX_METADATA_PAIRS} pairs"),
        ));
    }
    let mut total = 0;
    for (k, v) in m {
        if k.len() > MAX_METADATA_KEY_BYTES {
            return Err(Invalid::new(
                "metadata",
                format!(
                    "key '{}…' is longer than {MAX_METADATA_KEY_BYTES} bytes",
                    truncate(k, 32)
                ),
            ));
        }
        if v.len() > MAX_METADATA_VALUE_BYTES {
            return Err(Invalid::new(
                "metadata",
                format!("value of key '{k}' is longer than {MAX_METADATA_VALUE_BYTES} bytes"),
            ));
        }
        total += k.len() + v.len();
    }
    if total > MAX_METADATA_TOTAL_BYTES {
        return Err(Invalid::new(
            "metadata",
            format!("keys and values together must be at most {MAX_METADATA_TOTAL_BYTES} bytes, got {total}"),
        ));
    }
    Ok(())
}

fn truncate(s: &str, chars: usize) -> String {
    s.chars().take(chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FileSpec {
        FileSpec {
            name: "a.txt".into(),
            ..Default::default()
        }
    }

    #[test]
    fn each_limit_names_its_field() {
        let cases: Vec<(FileSpec, &str)> = vec![
            (
                FileSpec {
                    name: "n".repeat(257),
                    ..spec()
                },
                "name",
            ),
            (
                FileSpec {
                    external_id: Some("x".repeat(256)),
                    ..spec()
                },
                "externalId",
            ),
            (
                FileSpec {
                    directory: Some("rel/path".into()),
                    ..spec()
                },
                "directory",
            ),
            (
                FileSpec {
                    source: Some("s".repeat(129)),
                    ..spec()
                },
                "source",
            ),
            (
                FileSpec {
                    mime_type: Some("m".repeat(257)),
                    ..spec()
                },
                "mimeType",
            ),
            (
                FileSpec {
                    asset_ids: Some(vec![]),
                    ..spec()
                },
                "assetIds",
            ),
            (
                FileSpec {
                    asset_ids: Some(vec![0]),
                    ..spec()
                },
                "assetIds[0]",
            ),
            (
                FileSpec {
                    data_set_id: Some(MAX_ID + 1),
                    ..spec()
                },
                "dataSetId",
            ),
            (
                FileSpec {
                    source_created_time: Some(-1),
                    ..spec()
                },
                "sourceCreatedTime",
            ),
            (
                FileSpec {
                    security_categories: Some(vec![1; 101]),
                    ..spec()
                },
                "securityCategories",
            ),
            (
                FileSpec {
                    labels: Some(vec!["a".into(), "a".into()]),
                    ..spec()
                },
                "labels[1]",
            ),
            (
                FileSpec {
                    metadata: Some([("k".repeat(129), "v".into())].into_iter().collect()),
                    ..spec()
                },
                "metadata",
            ),
        ];
        for (s, field) in cases {
            assert_eq!(s.validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn limits_themselves_are_allowed() {
        let s = FileSpec {
            name: "n".repeat(256),
            external_id: Some("x".repeat(255)),
            directory: Some(format!("/{}", "d".repeat(511))),
            metadata: Some(
                [("k".repeat(128), "v".repeat(10_240 - 128))]
                    .into_iter()
                    .collect(),
            ),
            asset_ids: Some(vec![MAX_ID; 1000]),
            labels: Some((0..10).map(|i| i.to_string()).collect()),
            ..spec()
        };
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn overwrite_keeps_absent_fields_and_identity() {
        let mut f = FileRecord::from_spec(
            7,
            FileSpec {
                source: Some("old".into()),
                asset_ids: Some(vec![1]),
                metadata: Some([("a".into(), "1".into())].into_iter().collect()),
                ..spec()
            },
            100,
        );
        f.overwrite_with(
            FileSpec {
                name: "b.txt".into(),
                metadata: Some(Metadata::new()),
                ..Default::default()
            },
            200,
        );
        assert_eq!((f.id, f.created_time, f.last_updated_time), (7, 100, 200));
        assert_eq!(f.name, "b.txt");
        assert_eq!(f.source.as_deref(), Some("old"));
        assert_eq!(f.asset_ids, vec![1]);
        assert!(f.metadata.is_empty());
    }
}
