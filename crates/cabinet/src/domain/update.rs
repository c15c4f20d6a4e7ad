//! Changes to existing files (`POST /files/update`): which fields change, and how.
//!
//! The wire form of one request item is
//! `{"id" | "externalId" | "instanceId": …, "update": {"<field>": {<operation>}, …}}` (spec §5.9);
//! [`FileUpdate::parse`] turns it into a [`FileUpdate`] and [`FilePatch::apply`] applies it to a
//! [`FileRecord`].
//!
//! Choices made where the spec is silent:
//! - `{"set": null}` means the same as `{"setNull": true}` on single-valued fields, and the same as an
//!   empty `set` on metadata and list fields (Python itself rewrites `metadata.set(None)` to `{"set": {}}`).
//!   `{"setNull": false}` is refused: it can only be a mistake.
//! - `add` and `remove` are applied in that order, on metadata and on every list: a key or value named in
//!   both ends up absent.
//! - Adding a list value that is already present is a no-op, so `add` never creates repeats; `set` keeps
//!   the list exactly as given, as create does.
//! - An empty `update` object is accepted; it changes nothing but the file's `lastUpdatedTime`.

use std::collections::HashSet;
use std::hash::Hash;

use serde_json::{Map, Value};

use super::*;

/// One item of an update request: the file and what to change.
#[derive(Debug, Clone, PartialEq)]
pub struct FileUpdate {
    /// The file, in the form the client named it.
    pub target: Identifier,
    /// The changes.
    pub patch: FilePatch,
}

/// A change to a single-valued field.
#[derive(Debug, Clone, PartialEq)]
pub enum SetOrNull<T> {
    /// `{"set": value}`: the field gets this value.
    Set(T),
    /// `{"setNull": true}`: the field is cleared.
    SetNull,
}

impl<T: Clone> SetOrNull<T> {
    fn value(&self) -> Option<T> {
        match self {
            SetOrNull::Set(v) => Some(v.clone()),
            SetOrNull::SetNull => None,
        }
    }
}

/// A change to `metadata`.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataPatch {
    /// `{"set": {…}}`: replaces every pair.
    Set(Metadata),
    /// `{"add": {…}, "remove": [keys]}`: `add` inserts or overwrites pairs, then `remove` deletes keys
    /// (unknown keys are ignored). So a key named in both is absent afterwards.
    Change {
        /// Pairs to insert or overwrite.
        add: Metadata,
        /// Keys to delete.
        remove: Vec<String>,
    },
}

/// A change to a list field (`assetIds`, `securityCategories`, `labels`).
#[derive(Debug, Clone, PartialEq)]
pub enum ListPatch<T> {
    /// `{"set": [...]}`: replaces the list.
    Set(Vec<T>),
    /// `{"add": [...], "remove": [...]}`: appends the values not yet present, then removes every value
    /// named in `remove` (absent ones are ignored). So a value named in both is absent afterwards.
    Change {
        /// Values to append when not present.
        add: Vec<T>,
        /// Values to remove.
        remove: Vec<T>,
    },
}

/// The changes of one update item. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilePatch {
    /// `externalId`; uniqueness is the store's to check.
    pub external_id: Option<SetOrNull<String>>,
    /// `directory`.
    pub directory: Option<SetOrNull<String>>,
    /// `source`.
    pub source: Option<SetOrNull<String>>,
    /// `mimeType`.
    pub mime_type: Option<SetOrNull<String>>,
    /// `metadata`.
    pub metadata: Option<MetadataPatch>,
    /// `assetIds`.
    pub asset_ids: Option<ListPatch<i64>>,
    /// `dataSetId`.
    pub data_set_id: Option<SetOrNull<i64>>,
    /// `sourceCreatedTime`.
    pub source_created_time: Option<SetOrNull<i64>>,
    /// `sourceModifiedTime`.
    pub source_modified_time: Option<SetOrNull<i64>>,
    /// `securityCategories`.
    pub security_categories: Option<ListPatch<i64>>,
    /// `labels`, by externalId.
    pub labels: Option<ListPatch<Label>>,
    /// `geoLocation`, a GeoJSON Feature checked when it was parsed.
    pub geo_location: Option<SetOrNull<GeoLocation>>,
}

/// The fields an item addressed by `instanceId` may change (spec: `DMSFileChange`).
const INSTANCE_UPDATABLE_FIELDS: [&str; 6] = [
    "externalId",
    "metadata",
    "assetIds",
    "dataSetId",
    "labels",
    "geoLocation",
];

impl FilePatch {
    /// Applies the changes to `file`, then checks every limit on the fields the patch touched, as they are
    /// afterwards (metadata sizes, at most 1000 assets, 100 security categories and 10 labels, an absolute
    /// directory of at most 512 characters, …). On error `file` is left as it was. Nothing but the patched
    /// fields changes: `lastUpdatedTime` is the store's to set. Fields the patch leaves alone are not
    /// checked again, so a file stored under older rules stays updatable.
    pub fn apply(&self, file: &mut FileRecord) -> Result<(), Invalid> {
        let mut next = file.clone();
        if let Some(p) = &self.external_id {
            next.external_id = p.value();
            if let Some(x) = &next.external_id {
                check_external_id("externalId", x)?;
            }
        }
        if let Some(p) = &self.directory {
            next.directory = p.value();
            if let Some(d) = &next.directory {
                check_directory(d)?;
            }
        }
        if let Some(p) = &self.source {
            next.source = p.value();
            check_max_chars("source", next.source.as_deref(), MAX_SOURCE)?;
        }
        if let Some(p) = &self.mime_type {
            next.mime_type = p.value();
            check_max_chars("mimeType", next.mime_type.as_deref(), MAX_MIME_TYPE)?;
        }
        if let Some(p) = &self.metadata {
            match p {
                MetadataPatch::Set(m) => next.metadata = m.clone(),
                MetadataPatch::Change { add, remove } => {
                    next.metadata
                        .extend(add.iter().map(|(k, v)| (k.clone(), v.clone())));
                    for k in remove {
                        next.metadata.remove(k);
                    }
                }
            }
            check_metadata(&next.metadata)?;
        }
        if let Some(p) = &self.asset_ids {
            apply_list(&mut next.asset_ids, p);
            check_id_list("assetIds", &next.asset_ids, MAX_ASSET_IDS)?;
        }
        if let Some(p) = &self.data_set_id {
            next.data_set_id = p.value();
            if let Some(d) = next.data_set_id {
                check_id("dataSetId", d)?;
            }
        }
        if let Some(p) = &self.source_created_time {
            next.source_created_time = p.value();
            check_time("sourceCreatedTime", next.source_created_time)?;
        }
        if let Some(p) = &self.source_modified_time {
            next.source_modified_time = p.value();
            check_time("sourceModifiedTime", next.source_modified_time)?;
        }
        if let Some(p) = &self.security_categories {
            apply_list(&mut next.security_categories, p);
            check_id_list(
                "securityCategories",
                &next.security_categories,
                MAX_SECURITY_CATEGORIES,
            )?;
        }
        if let Some(p) = &self.labels {
            apply_list(&mut next.labels, p);
            check_labels("labels", &next.labels)?;
        }
        if let Some(p) = &self.geo_location {
            next.geo_location = p.value();
        }
        *file = next;
        Ok(())
    }

    /// The wire names of the fields this patch changes.
    pub fn fields(&self) -> Vec<&'static str> {
        let present = [
            ("externalId", self.external_id.is_some()),
            ("directory", self.directory.is_some()),
            ("source", self.source.is_some()),
            ("mimeType", self.mime_type.is_some()),
            ("metadata", self.metadata.is_some()),
            ("assetIds", self.asset_ids.is_some()),
            ("dataSetId", self.data_set_id.is_some()),
            ("sourceCreatedTime", self.source_created_time.is_some()),
            ("sourceModifiedTime", self.source_modified_time.is_some()),
            ("securityCategories", self.security_categories.is_some()),
            ("labels", self.labels.is_some()),
            ("geoLocation", self.geo_location.is_some()),
        ];
        present
            .into_iter()
            .filter_map(|(name, is)| is.then_some(name))
            .collect()
    }

    /// Parses the `update` object of a request item. Errors name the field relative to that object
    /// (`metadata.add`, `assetIds.set[2]`).
    pub fn parse(update: &Value) -> Result<Self, Invalid> {
        let obj = update
            .as_object()
            .ok_or_else(|| Invalid::new("", "must be an object"))?;
        let mut patch = FilePatch::default();
        for (key, op) in obj {
            let field = key.as_str();
            let within = |e: Invalid| e.within(field);
            match field {
                "externalId" => patch.external_id = Some(scalar(op, string).map_err(within)?),
                "directory" => patch.directory = Some(scalar(op, string).map_err(within)?),
                "source" => patch.source = Some(scalar(op, string).map_err(within)?),
                "mimeType" => patch.mime_type = Some(scalar(op, string).map_err(within)?),
                "metadata" => patch.metadata = Some(metadata(op).map_err(within)?),
                "assetIds" => {
                    patch.asset_ids = Some(list(op, MAX_ASSET_IDS, integer).map_err(within)?)
                }
                "dataSetId" => patch.data_set_id = Some(scalar(op, integer).map_err(within)?),
                "sourceCreatedTime" => {
                    patch.source_created_time = Some(scalar(op, integer).map_err(within)?)
                }
                "sourceModifiedTime" => {
                    patch.source_modified_time = Some(scalar(op, integer).map_err(within)?)
                }
                "securityCategories" => {
                    patch.security_categories =
                        Some(list(op, MAX_SECURITY_CATEGORIES, integer).map_err(within)?)
                }
                "labels" => patch.labels = Some(list(op, MAX_LABELS, label_ref).map_err(within)?),
                "geoLocation" => {
                    patch.geo_location = Some(geo_location(op).map_err(within)?)
                }
                "name" => {
                    return Err(Invalid::new(
                        "name",
                        "cannot be updated; rename a file by overwriting it (POST /files?overwrite=true)",
                    ))
                }
                "id" | "instanceId" | "uploaded" | "uploadedTime" | "createdTime"
                | "lastUpdatedTime" => {
                    return Err(Invalid::new(field, "is read-only and cannot be updated"))
                }
                _ => return Err(Invalid::new(field, "is not a field of a file update")),
            }
        }
        // A patch that breaks a limit even on a file with no fields set breaks it on every file (every
        // limit is an upper bound, and add/remove on an empty file yields a subset of what it yields on any
        // other), so such a patch is refused here, before the store is asked.
        patch.apply(&mut empty_file())?;
        Ok(patch)
    }
}

impl FileUpdate {
    /// Parses one request item: exactly one of `id`, `externalId` or `instanceId`, and `update`. Errors
    /// name the field relative to the item (`update.metadata.add`, `instanceId.space`).
    pub fn parse(item: &Value) -> Result<Self, Invalid> {
        let obj = item
            .as_object()
            .ok_or_else(|| Invalid::new("", "must be an object"))?;
        for key in obj.keys() {
            if !matches!(key.as_str(), "id" | "externalId" | "instanceId" | "update") {
                return Err(Invalid::new(
                    key.clone(),
                    "is not a field of an update item (id, externalId, instanceId, update)",
                ));
            }
        }
        let target = identifier(obj)?;
        target.check()?;
        let update = obj
            .get("update")
            .ok_or_else(|| Invalid::new("update", "is required"))?;
        let patch = FilePatch::parse(update).map_err(|e| e.within("update"))?;
        if matches!(target, Identifier::InstanceId { .. }) {
            if let Some(field) = patch
                .fields()
                .into_iter()
                .find(|f| !INSTANCE_UPDATABLE_FIELDS.contains(f))
            {
                return Err(Invalid::new(
                    format!("update.{field}"),
                    format!(
                        "cannot be updated on a file addressed by instanceId; such files allow only {}",
                        INSTANCE_UPDATABLE_FIELDS.join(", ")
                    ),
                ));
            }
        }
        Ok(FileUpdate { target, patch })
    }

    /// Parses the `items` of an update request, naming errors `items[i].…`.
    pub fn parse_items(items: &[Value]) -> Result<Vec<FileUpdate>, Invalid> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| FileUpdate::parse(item).map_err(|e| e.within(&format!("items[{i}]"))))
            .collect()
    }
}

fn identifier(obj: &Map<String, Value>) -> Result<Identifier, Invalid> {
    let forms: Vec<&str> = ["id", "externalId", "instanceId"]
        .into_iter()
        .filter(|k| obj.contains_key(*k))
        .collect();
    let [form] = forms.as_slice() else {
        return Err(Invalid::new(
            "",
            "must have exactly one of id, externalId or instanceId",
        ));
    };
    let value = obj
        .get(*form)
        .ok_or_else(|| Invalid::new(*form, "is required"))?;
    match *form {
        "id" => integer(value)
            .map(Identifier::Id)
            .map_err(|e| e.within("id")),
        "externalId" => string(value)
            .map(Identifier::ExternalId)
            .map_err(|e| e.within("externalId")),
        _ => {
            let inst = value
                .as_object()
                .ok_or_else(|| Invalid::new("instanceId", "must be an object"))?;
            for key in inst.keys() {
                if !matches!(key.as_str(), "space" | "externalId") {
                    return Err(Invalid::new(
                        format!("instanceId.{key}"),
                        "is not a field of an instanceId (space, externalId)",
                    ));
                }
            }
            let part = |name: &str| {
                inst.get(name)
                    .ok_or_else(|| Invalid::new("", "is required"))
                    .and_then(string)
                    .map_err(|e| e.within(name).within("instanceId"))
            };
            Ok(Identifier::InstanceId {
                space: part("space")?,
                external_id: part("externalId")?,
            })
        }
    }
}

fn string(v: &Value) -> Result<String, Invalid> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| Invalid::new("", "must be a string"))
}

fn integer(v: &Value) -> Result<i64, Invalid> {
    v.as_i64()
        .ok_or_else(|| Invalid::new("", "must be an integer"))
}

fn label_ref(v: &Value) -> Result<Label, Invalid> {
    let obj = v
        .as_object()
        .ok_or_else(|| Invalid::new("", "must be a label reference {\"externalId\": …}"))?;
    if let Some(key) = obj.keys().find(|k| k.as_str() != "externalId") {
        return Err(Invalid::new(
            key.clone(),
            "is not a field of a label reference",
        ));
    }
    let x = obj
        .get("externalId")
        .ok_or_else(|| Invalid::new("externalId", "is required"))
        .and_then(|v| string(v).map_err(|e| e.within("externalId")))?;
    check_external_id("externalId", &x)?;
    Ok(x)
}

/// The operation object of a field, with the keys it may have.
fn operation<'a>(op: &'a Value, allowed: &[&str]) -> Result<&'a Map<String, Value>, Invalid> {
    let obj = op.as_object().ok_or_else(|| {
        Invalid::new(
            "",
            format!("must be an object with {}", allowed.join(" or ")),
        )
    })?;
    if let Some(key) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Invalid::new(
            key.clone(),
            format!("is not an operation here; use {}", allowed.join(" or ")),
        ));
    }
    Ok(obj)
}

fn scalar<T>(
    op: &Value,
    parse: impl Fn(&Value) -> Result<T, Invalid>,
) -> Result<SetOrNull<T>, Invalid> {
    let obj = operation(op, &["set", "setNull"])?;
    match (obj.get("set"), obj.get("setNull")) {
        (Some(_), Some(_)) => Err(Invalid::new("", "give either set or setNull, not both")),
        (Some(Value::Null), None) => Ok(SetOrNull::SetNull),
        (Some(v), None) => parse(v).map(SetOrNull::Set).map_err(|e| e.within("set")),
        (None, Some(Value::Bool(true))) => Ok(SetOrNull::SetNull),
        (None, Some(_)) => Err(Invalid::new("setNull", "must be true")),
        (None, None) => Err(Invalid::new("", "must have set or setNull")),
    }
}

/// A geoLocation change. Its checks name the field inside the value without `set`
/// (`geoLocation.geometry.coordinates`), as the limits of the other fields do.
fn geo_location(op: &Value) -> Result<SetOrNull<GeoLocation>, Invalid> {
    match scalar(op, |v| Ok(v.clone()))? {
        SetOrNull::Set(v) => GeoLocation::parse(&v).map(SetOrNull::Set),
        SetOrNull::SetNull => Ok(SetOrNull::SetNull),
    }
}

fn metadata(op: &Value) -> Result<MetadataPatch, Invalid> {
    let obj = operation(op, &["set", "add", "remove"])?;
    let map = |key: &str| -> Result<Option<Metadata>, Invalid> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    string(v)
                        .map(|v| (k.clone(), v))
                        .map_err(|e| e.within(k).within(key))
                })
                .collect::<Result<Metadata, Invalid>>()
                .map(Some),
            Some(_) => Err(Invalid::new(
                key,
                "must be an object of string keys and values",
            )),
        }
    };
    let set = map("set")?;
    let add = map("add")?;
    let remove = match obj.get("remove") {
        None | Some(Value::Null) => None,
        Some(v) => Some(elements(v, usize::MAX, string).map_err(|e| e.within("remove"))?),
    };
    match (obj.contains_key("set"), set, add, remove) {
        (true, _, Some(_), _) | (true, _, _, Some(_)) => Err(Invalid::new(
            "",
            "set cannot be combined with add or remove",
        )),
        (true, set, None, None) => Ok(MetadataPatch::Set(set.unwrap_or_default())),
        (false, _, None, None) => Err(Invalid::new("", "must have set, or add and/or remove")),
        (false, _, add, remove) => Ok(MetadataPatch::Change {
            add: add.unwrap_or_default(),
            remove: remove.unwrap_or_default(),
        }),
    }
}

fn list<T>(
    op: &Value,
    max: usize,
    parse: impl Fn(&Value) -> Result<T, Invalid> + Copy,
) -> Result<ListPatch<T>, Invalid> {
    let obj = operation(op, &["set", "add", "remove"])?;
    let part = |key: &str| -> Result<Option<Vec<T>>, Invalid> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => elements(v, max, parse).map(Some).map_err(|e| e.within(key)),
        }
    };
    let set = part("set")?;
    let add = part("add")?;
    let remove = part("remove")?;
    match (obj.contains_key("set"), set, add, remove) {
        (true, _, Some(_), _) | (true, _, _, Some(_)) => Err(Invalid::new(
            "",
            "set cannot be combined with add or remove",
        )),
        (true, set, None, None) => Ok(ListPatch::Set(set.unwrap_or_default())),
        (false, _, None, None) => Err(Invalid::new("", "must have set, or add and/or remove")),
        (false, _, add, remove) => Ok(ListPatch::Change {
            add: add.unwrap_or_default(),
            remove: remove.unwrap_or_default(),
        }),
    }
}

/// A JSON array of at most `max` elements, each parsed with `parse`.
fn elements<T>(
    v: &Value,
    max: usize,
    parse: impl Fn(&Value) -> Result<T, Invalid>,
) -> Result<Vec<T>, Invalid> {
    let a = v
        .as_array()
        .ok_or_else(|| Invalid::new("", "must be an array"))?;
    if a.len() > max {
        return Err(Invalid::new("", format!("must have at most {max} items")));
    }
    a.iter()
        .enumerate()
        .map(|(i, e)| parse(e).map_err(|err| err.within(&format!("[{i}]"))))
        .collect()
}

fn apply_list<T: Eq + Hash + Clone>(current: &mut Vec<T>, patch: &ListPatch<T>) {
    match patch {
        ListPatch::Set(values) => *current = values.clone(),
        ListPatch::Change { add, remove } => {
            let mut present: HashSet<T> = current.iter().cloned().collect();
            for v in add {
                if present.insert(v.clone()) {
                    current.push(v.clone());
                }
            }
            if !remove.is_empty() {
                let remove: HashSet<&T> = remove.iter().collect();
                current.retain(|v| !remove.contains(v));
            }
        }
    }
}

/// A file with nothing but its required fields, to try patches on.
fn empty_file() -> FileRecord {
    FileRecord {
        id: 1,
        external_id: None,
        name: String::new(),
        directory: None,
        source: None,
        mime_type: None,
        metadata: Metadata::new(),
        asset_ids: vec![],
        data_set_id: None,
        source_created_time: None,
        source_modified_time: None,
        security_categories: vec![],
        labels: vec![],
        geo_location: None,
        created_time: 0,
        last_updated_time: 0,
        uploaded_time: None,
        content: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file() -> FileRecord {
        FileRecord {
            external_id: Some("x".into()),
            directory: Some("/d".into()),
            source: Some("src".into()),
            mime_type: Some("text/plain".into()),
            metadata: [("a".to_string(), "1".to_string()), ("b".into(), "2".into())]
                .into_iter()
                .collect(),
            asset_ids: vec![1, 2, 3],
            data_set_id: Some(9),
            source_created_time: Some(10),
            source_modified_time: Some(11),
            security_categories: vec![5],
            labels: vec!["L0".into()],
            geo_location: Some(GeoLocation::parse(&point()).unwrap()),
            created_time: 100,
            last_updated_time: 100,
            ..empty_file()
        }
    }

    fn point() -> Value {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [1.0, 2.0]}})
    }

    fn patch(update: Value) -> FilePatch {
        FilePatch::parse(&update).unwrap()
    }

    fn applied(update: Value) -> FileRecord {
        let mut f = file();
        patch(update).apply(&mut f).unwrap();
        f
    }

    fn parse_err(item: Value) -> Invalid {
        FileUpdate::parse_items(&[json!({"id": 1, "update": {}}), item]).unwrap_err()
    }

    #[test]
    fn scalars_set_and_set_null() {
        let f = applied(json!({
            "externalId": {"set": "y"}, "directory": {"set": "/e"}, "source": {"set": "s2"},
            "mimeType": {"set": "text/csv"}, "dataSetId": {"set": 4}, "sourceCreatedTime": {"set": 0},
            "sourceModifiedTime": {"set": 7}, "geoLocation": {"set": point()},
        }));
        assert_eq!(f.external_id.as_deref(), Some("y"));
        assert_eq!(f.directory.as_deref(), Some("/e"));
        assert_eq!(f.source.as_deref(), Some("s2"));
        assert_eq!(f.mime_type.as_deref(), Some("text/csv"));
        assert_eq!(
            (f.data_set_id, f.source_created_time, f.source_modified_time),
            (Some(4), Some(0), Some(7))
        );
        let f = applied(json!({
            "externalId": {"setNull": true}, "directory": {"setNull": true}, "source": {"setNull": true},
            "mimeType": {"setNull": true}, "dataSetId": {"setNull": true},
            "sourceCreatedTime": {"setNull": true}, "sourceModifiedTime": {"set": null},
            "geoLocation": {"setNull": true},
        }));
        assert_eq!(f.external_id, None);
        assert_eq!(f.directory, None);
        assert_eq!(f.source, None);
        assert_eq!(f.mime_type, None);
        assert_eq!(f.data_set_id, None);
        assert_eq!(f.source_created_time, None);
        assert_eq!(f.source_modified_time, None);
        assert_eq!(f.geo_location, None);
    }

    #[test]
    fn apply_moves_nothing_else() {
        let f = applied(json!({"source": {"set": "other"}}));
        assert_eq!(
            f,
            FileRecord {
                source: Some("other".into()),
                ..file()
            }
        );
        let f = applied(json!({}));
        assert_eq!(f, file());
    }

    #[test]
    fn metadata_set_add_remove() {
        let f = applied(json!({"metadata": {"set": {"only": "this"}}}));
        assert_eq!(
            f.metadata,
            [("only".to_string(), "this".to_string())].into()
        );
        let f = applied(json!({"metadata": {"set": {}}}));
        assert!(f.metadata.is_empty());
        let f = applied(json!({"metadata": {"set": null}}));
        assert!(f.metadata.is_empty());
        let f =
            applied(json!({"metadata": {"add": {"a": "new", "c": "3"}, "remove": ["b", "nope"]}}));
        assert_eq!(
            f.metadata,
            [
                ("a".to_string(), "new".to_string()),
                ("c".into(), "3".into())
            ]
            .into()
        );
        // add first, then remove: a key in both is gone.
        let f = applied(json!({"metadata": {"add": {"k": "v"}, "remove": ["k"]}}));
        assert!(!f.metadata.contains_key("k"));
        let f = applied(json!({"metadata": {"remove": ["a"]}}));
        assert_eq!(f.metadata, [("b".to_string(), "2".to_string())].into());
    }

    #[test]
    fn lists_set_add_remove() {
        let f = applied(json!({"assetIds": {"add": [3, 4, 4], "remove": [1, 99]}}));
        assert_eq!(f.asset_ids, vec![2, 3, 4]);
        let f = applied(json!({"assetIds": {"set": [9]}}));
        assert_eq!(f.asset_ids, vec![9]);
        let f = applied(
            json!({"assetIds": {"set": []}, "securityCategories": {"set": []}, "labels": {"set": []}}),
        );
        assert!(f.asset_ids.is_empty() && f.security_categories.is_empty() && f.labels.is_empty());
        let f = applied(json!({"securityCategories": {"add": [6], "remove": [5]}}));
        assert_eq!(f.security_categories, vec![6]);
        let f = applied(
            json!({"labels": {"add": [{"externalId": "L0"}, {"externalId": "L1"}], "remove": [{"externalId": "Lx"}]}}),
        );
        assert_eq!(f.labels, vec!["L0".to_string(), "L1".to_string()]);
        let f = applied(json!({"labels": {"set": [{"externalId": "A"}]}}));
        assert_eq!(f.labels, vec!["A".to_string()]);
        let f = applied(json!({"labels": {"remove": [{"externalId": "L0"}]}}));
        assert!(f.labels.is_empty());
        // add first, then remove
        let f = applied(json!({"assetIds": {"add": [7], "remove": [7]}}));
        assert_eq!(f.asset_ids, vec![1, 2, 3]);
    }

    #[test]
    fn empty_clears_succeed_on_empty_fields() {
        let mut f = empty_file();
        patch(json!({
            "directory": {"setNull": true}, "source": {"setNull": true}, "mimeType": {"setNull": true},
            "metadata": {"set": {}}, "assetIds": {"set": []}, "sourceCreatedTime": {"setNull": true},
            "sourceModifiedTime": {"setNull": true}, "dataSetId": {"setNull": true},
            "securityCategories": {"set": []}, "labels": {"set": []}, "geoLocation": {"setNull": true},
            "externalId": {"setNull": true},
        }))
        .apply(&mut f)
        .unwrap();
        assert_eq!(f, empty_file());
    }

    #[test]
    fn limits_are_checked_on_the_result() {
        let mut f = file();
        f.asset_ids = (1..=1000).collect();
        let p = patch(json!({"assetIds": {"add": [1001]}}));
        let before = f.clone();
        assert_eq!(p.apply(&mut f).unwrap_err().field, "assetIds");
        assert_eq!(f, before);
        // removing as well keeps it within the limit
        patch(json!({"assetIds": {"add": [1001], "remove": [1]}}))
            .apply(&mut f)
            .unwrap();
        assert_eq!(f.asset_ids.len(), 1000);

        let mut f = file();
        f.security_categories = (1..=100).collect();
        let e = patch(json!({"securityCategories": {"add": [101]}}))
            .apply(&mut f)
            .unwrap_err();
        assert_eq!(e.field, "securityCategories");

        let mut f = file();
        f.labels = (0..10).map(|i| format!("L{i}")).collect();
        let e = patch(json!({"labels": {"add": [{"externalId": "new"}]}}))
            .apply(&mut f)
            .unwrap_err();
        assert_eq!(e.field, "labels");
        // re-adding a present one is a no-op, so it stays at 10
        patch(json!({"labels": {"add": [{"externalId": "L3"}]}}))
            .apply(&mut f)
            .unwrap();

        let mut f = file();
        f.metadata = [("big".to_string(), "v".repeat(10_000))].into();
        let e = patch(json!({"metadata": {"add": {"more": "x".repeat(300)}}}))
            .apply(&mut f)
            .unwrap_err();
        assert_eq!(e.field, "metadata");
        let mut f = file();
        f.metadata = (0..256).map(|i| (format!("k{i}"), "v".into())).collect();
        let e = patch(json!({"metadata": {"add": {"one": "more"}}}))
            .apply(&mut f)
            .unwrap_err();
        assert_eq!(e.field, "metadata");
    }

    #[test]
    fn value_limits_are_refused_at_parse_time() {
        let cases = [
            (
                json!({"externalId": {"set": ""}}),
                "items[1].update.externalId",
            ),
            (
                json!({"externalId": {"set": "x".repeat(256)}}),
                "items[1].update.externalId",
            ),
            (
                json!({"directory": {"set": "relative"}}),
                "items[1].update.directory",
            ),
            (
                json!({"directory": {"set": format!("/{}", "d".repeat(512))}}),
                "items[1].update.directory",
            ),
            (
                json!({"source": {"set": "s".repeat(129)}}),
                "items[1].update.source",
            ),
            (
                json!({"mimeType": {"set": "m".repeat(257)}}),
                "items[1].update.mimeType",
            ),
            (
                json!({"dataSetId": {"set": 0}}),
                "items[1].update.dataSetId",
            ),
            (
                json!({"dataSetId": {"set": MAX_ID + 1}}),
                "items[1].update.dataSetId",
            ),
            (
                json!({"sourceCreatedTime": {"set": -1}}),
                "items[1].update.sourceCreatedTime",
            ),
            (
                json!({"sourceModifiedTime": {"set": -1}}),
                "items[1].update.sourceModifiedTime",
            ),
            (
                json!({"assetIds": {"set": [0]}}),
                "items[1].update.assetIds[0]",
            ),
            (
                json!({"assetIds": {"add": [1, -5]}}),
                "items[1].update.assetIds[1]",
            ),
            (
                json!({"assetIds": {"set": (1..=1001).collect::<Vec<i64>>()}}),
                "items[1].update.assetIds.set",
            ),
            (
                json!({"securityCategories": {"set": (1..=101).collect::<Vec<i64>>()}}),
                "items[1].update.securityCategories.set",
            ),
            (
                json!({"labels": {"set": [{"externalId": "a"}, {"externalId": "a"}]}}),
                "items[1].update.labels[1]",
            ),
            (
                json!({"labels": {"add": (0..11).map(|i| json!({"externalId": format!("L{i}")})).collect::<Vec<_>>()}}),
                "items[1].update.labels.add",
            ),
            (
                json!({"labels": {"remove": (0..11).map(|i| json!({"externalId": format!("L{i}")})).collect::<Vec<_>>()}}),
                "items[1].update.labels.remove",
            ),
            (
                json!({"labels": {"add": [{"externalId": ""}]}}),
                "items[1].update.labels.add[0].externalId",
            ),
            (
                json!({"metadata": {"set": {"k": "v".repeat(10_240)}}}),
                "items[1].update.metadata",
            ),
            (
                json!({"metadata": {"add": {"k".repeat(129): "v"}}}),
                "items[1].update.metadata",
            ),
            (
                json!({"geoLocation": {"set": {"type": "Point"}}}),
                "items[1].update.geoLocation.type",
            ),
            (
                json!({"geoLocation": {"set": {"type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [1, 2]},
                    "properties": {"p": "x".repeat(MAX_GEO_LOCATION_BYTES)}}}}),
                "items[1].update.geoLocation",
            ),
            (
                json!({"geoLocation": {"set": {"type": "Feature", "geometry": {"type": "MultiPoint",
                    "coordinates": vec![[1, 2]; MAX_GEO_POINTS + 1]}}}}),
                "items[1].update.geoLocation.geometry.coordinates",
            ),
        ];
        for (update, field) in cases {
            let e = parse_err(json!({"id": 5, "update": update}));
            assert_eq!(e.field, field, "{update}: {e}");
        }
    }

    #[test]
    fn shape_errors_name_the_field() {
        let cases = [
            (
                json!({"id": 5, "update": {"name": {"set": "n"}}}),
                "items[1].update.name",
            ),
            (
                json!({"id": 5, "update": {"createdTime": {"set": 1}}}),
                "items[1].update.createdTime",
            ),
            (
                json!({"id": 5, "update": {"colour": {"set": 1}}}),
                "items[1].update.colour",
            ),
            (
                json!({"id": 5, "update": {"metadata": {"add": {"k": 1}}}}),
                "items[1].update.metadata.add.k",
            ),
            (
                json!({"id": 5, "update": {"metadata": {"add": []}}}),
                "items[1].update.metadata.add",
            ),
            (
                json!({"id": 5, "update": {"metadata": {"remove": [1]}}}),
                "items[1].update.metadata.remove[0]",
            ),
            (
                json!({"id": 5, "update": {"metadata": {"set": {}, "add": {"a": "b"}}}}),
                "items[1].update.metadata",
            ),
            (
                json!({"id": 5, "update": {"metadata": {}}}),
                "items[1].update.metadata",
            ),
            (
                json!({"id": 5, "update": {"assetIds": {"set": [1], "remove": [2]}}}),
                "items[1].update.assetIds",
            ),
            (
                json!({"id": 5, "update": {"assetIds": {"set": [1], "add": [2]}}}),
                "items[1].update.assetIds",
            ),
            (
                json!({"id": 5, "update": {"assetIds": {"add": ["1"]}}}),
                "items[1].update.assetIds.add[0]",
            ),
            (
                json!({"id": 5, "update": {"assetIds": {"sett": [1]}}}),
                "items[1].update.assetIds.sett",
            ),
            (
                json!({"id": 5, "update": {"securityCategories": {"set": 1}}}),
                "items[1].update.securityCategories.set",
            ),
            (
                json!({"id": 5, "update": {"labels": {"add": ["L1"]}}}),
                "items[1].update.labels.add[0]",
            ),
            (
                json!({"id": 5, "update": {"labels": {"add": [{"externalId": "a", "x": 1}]}}}),
                "items[1].update.labels.add[0].x",
            ),
            (
                json!({"id": 5, "update": {"source": {"set": "a", "setNull": true}}}),
                "items[1].update.source",
            ),
            (
                json!({"id": 5, "update": {"source": {"setNull": false}}}),
                "items[1].update.source.setNull",
            ),
            (
                json!({"id": 5, "update": {"source": {}}}),
                "items[1].update.source",
            ),
            (
                json!({"id": 5, "update": {"source": "plain"}}),
                "items[1].update.source",
            ),
            (
                json!({"id": 5, "update": {"source": {"set": 5}}}),
                "items[1].update.source.set",
            ),
            (
                json!({"id": 5, "update": {"dataSetId": {"set": "5"}}}),
                "items[1].update.dataSetId.set",
            ),
            (
                json!({"id": 5, "update": {"sourceCreatedTime": {"set": 1.5}}}),
                "items[1].update.sourceCreatedTime.set",
            ),
            (json!({"id": 5, "update": []}), "items[1].update"),
            (json!({"id": 5}), "items[1].update"),
            (json!({"update": {}}), "items[1]"),
            (
                json!({"id": 5, "externalId": "a", "update": {}}),
                "items[1]",
            ),
            (json!({"id": 0, "update": {}}), "items[1].id"),
            (json!({"id": "5", "update": {}}), "items[1].id"),
            (
                json!({"externalId": "", "update": {}}),
                "items[1].externalId",
            ),
            (
                json!({"instanceId": {"space": "s"}, "update": {}}),
                "items[1].instanceId.externalId",
            ),
            (
                json!({"instanceId": {"space": "s", "externalId": "x", "y": 1}, "update": {}}),
                "items[1].instanceId.y",
            ),
            (
                json!({"id": 5, "update": {}, "ignoreUnknownIds": true}),
                "items[1].ignoreUnknownIds",
            ),
            (json!("id"), "items[1]"),
        ];
        for (item, field) in cases {
            let e = parse_err(item.clone());
            assert_eq!(e.field, field, "{item}: {e}");
        }
    }

    #[test]
    fn instance_items_touch_only_the_dms_fields() {
        let inst = json!({"space": "sp", "externalId": "f1"});
        let ok = json!({"instanceId": inst, "update": {
            "externalId": {"set": "x"}, "metadata": {"add": {"a": "b"}}, "assetIds": {"add": [1]},
            "dataSetId": {"set": 3}, "labels": {"add": [{"externalId": "L"}]}, "geoLocation": {"setNull": true},
        }});
        let u = FileUpdate::parse(&ok).unwrap();
        assert_eq!(
            u.target,
            Identifier::InstanceId {
                space: "sp".into(),
                external_id: "f1".into()
            }
        );
        for (field, op) in [
            ("directory", json!({"setNull": true})),
            ("source", json!({"setNull": true})),
            ("mimeType", json!({"set": "text/plain"})),
            ("sourceCreatedTime", json!({"set": 1})),
            ("sourceModifiedTime", json!({"setNull": true})),
            ("securityCategories", json!({"set": []})),
        ] {
            let item = json!({"instanceId": inst, "update": {field: op}});
            let e = FileUpdate::parse(&item).unwrap_err();
            assert_eq!(e.field, format!("update.{field}"));
        }
    }

    #[test]
    fn parses_the_python_and_js_bodies() {
        let python = json!([
            {"update":{"metadata":{"add":{"new":"v"},"remove":["k"]},"labels":{"add":[{"externalId":"L1"},{"externalId":"L2"}],"remove":[{"externalId":"L0"}]},"assetIds":{"add":[1,2],"remove":[3]},"source":{"set":"src"},"mimeType":{"setNull":true},"directory":{"setNull":true},"securityCategories":{"set":[1]},"dataSetId":{"setNull":true}},"id":1000001},
            {"update":{"metadata":{"set":{"only":"this"}},"assetIds":{"set":[9]}},"externalId":"seed-2"},
            {"update":{"metadata":{"set":{}},"externalId":{"set":"renamed"}},"id":1000003},
            {"update":{"directory":{"setNull":true},"source":{"setNull":true},"mimeType":{"setNull":true},"metadata":{"set":{"x":"y"}},"assetIds":{"set":[]},"sourceCreatedTime":{"setNull":true},"sourceModifiedTime":{"setNull":true},"dataSetId":{"setNull":true},"securityCategories":{"set":[]},"labels":{"set":[]},"geoLocation":{"setNull":true}},"externalId":"seed-1"},
            {"id":1000001,"update":{"metadata":{"add":{"n":"v"},"remove":["k"]},"labels":{"add":[{"externalId":"a"}],"remove":[{"externalId":"b"}]},"assetIds":{"add":[1],"remove":[2]},"source":{"setNull":true},"mimeType":{"set":"text/csv"},"sourceCreatedTime":{"set":1700000000000_i64}}},
        ]);
        let items = FileUpdate::parse_items(python.as_array().unwrap()).unwrap();
        assert_eq!(items.len(), 5);
        assert_eq!(items[1].target, Identifier::ExternalId("seed-2".into()));
        assert_eq!(
            items[0].patch.labels,
            Some(ListPatch::Change {
                add: vec!["L1".into(), "L2".into()],
                remove: vec!["L0".into()]
            })
        );
        assert_eq!(items[3].patch.labels, Some(ListPatch::Set(vec![])));
        assert_eq!(items[3].patch.fields().len(), 11);
    }
}
