//! Assets written as JSON straight from their records, for the pages of `/assets/list` and
//! `/assets/byids`. [`Asset::to_json`] builds a `serde_json::Value` per asset (a map, a `String` per key,
//! a `Value` per field) only to serialize it again; a page of 1,000 spent as long on that as on reading
//! its rows. [`AssetItem`] writes the same members in the same order: a `Value` object is a `BTreeMap`
//! (serde_json without `preserve_order`), so its keys come out sorted, and so do these. The tests hold
//! both forms equal byte for byte.

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::store::assets::Asset;

/// One asset of a response, with the `aggregates` asked for (none: no member).
pub struct AssetItem {
    /// The asset.
    pub asset: Asset,
    /// `childCount`, `depth` and `path`, as requested.
    pub aggregates: Option<Map<String, Value>>,
}

/// `[{"externalId": label}, …]`.
struct Labels<'a>(&'a [String]);

impl Serialize for Labels<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for l in self.0 {
            seq.serialize_element(&LabelRef(l))?;
        }
        seq.end()
    }
}

struct LabelRef<'a>(&'a str);

impl Serialize for LabelRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("externalId", self.0)?;
        m.end()
    }
}

impl Serialize for AssetItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = &self.asset;
        let f = &a.fields;
        let mut m = s.serialize_map(None)?;
        // In byte order of the keys, as a `Value` object writes them.
        if let Some(agg) = &self.aggregates {
            m.serialize_entry("aggregates", agg)?;
        }
        m.serialize_entry("createdTime", &a.created_time)?;
        if let Some(d) = f.data_set_id {
            m.serialize_entry("dataSetId", &d)?;
        }
        if let Some(d) = &f.description {
            m.serialize_entry("description", d)?;
        }
        if let Some(x) = &f.external_id {
            m.serialize_entry("externalId", x)?;
        }
        m.serialize_entry("id", &a.id)?;
        if !f.labels.is_empty() {
            m.serialize_entry("labels", &Labels(&f.labels))?;
        }
        m.serialize_entry("lastUpdatedTime", &a.last_updated_time)?;
        m.serialize_entry("metadata", &f.metadata)?;
        m.serialize_entry("name", &f.name)?;
        if let Some(p) = a.parent_id {
            m.serialize_entry("parentId", &p)?;
        }
        m.serialize_entry("rootId", &a.root_id)?;
        if let Some(x) = &f.source {
            m.serialize_entry("source", x)?;
        }
        m.end()
    }
}

/// `{"items": [...], "nextCursor"?}`.
#[derive(Serialize)]
pub struct AssetPageBody {
    /// The page.
    pub items: Vec<AssetItem>,
    /// The cursor of the next page, absent on the last.
    #[serde(rename = "nextCursor", skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::assets::AssetFields;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn asset(full: bool) -> Asset {
        let mut metadata = BTreeMap::new();
        if full {
            metadata.insert("b".to_string(), "\"quoted\" \u{e9}\n".to_string());
            metadata.insert("a".to_string(), "1".to_string());
        }
        Asset {
            id: 42,
            fields: AssetFields {
                external_id: full.then(|| "x\\42".to_string()),
                name: "pump \u{1F600}".into(),
                description: full.then(|| "d".to_string()),
                data_set_id: full.then_some(7),
                source: full.then(|| "s".to_string()),
                metadata,
                labels: if full {
                    vec!["l1".into(), "l\"2".into()]
                } else {
                    vec![]
                },
            },
            parent_id: full.then_some(5),
            root_id: 1,
            depth: if full { 2 } else { 0 },
            path: if full { "/1/5/".into() } else { "/".into() },
            created_time: 1_700_000_000_000,
            last_updated_time: 1_700_000_000_001,
        }
    }

    #[test]
    fn an_item_is_written_as_its_value_byte_for_byte() {
        for full in [false, true] {
            let a = asset(full);
            let plain = AssetItem {
                asset: a.clone(),
                aggregates: None,
            };
            assert_eq!(
                serde_json::to_string(&plain).unwrap(),
                serde_json::to_string(&a.to_json()).unwrap()
            );
            let mut agg = Map::new();
            agg.insert("depth".into(), json!(a.depth));
            agg.insert("childCount".into(), json!(3));
            let mut expected = a.to_json();
            expected["aggregates"] = Value::Object(agg.clone());
            let with = AssetItem {
                asset: a.clone(),
                aggregates: Some(agg),
            };
            assert_eq!(
                serde_json::to_string(&with).unwrap(),
                serde_json::to_string(&expected).unwrap()
            );
        }
    }

    #[test]
    fn a_page_is_written_as_its_value() {
        let (a, b) = (asset(false), asset(true));
        for cursor in [None, Some("c\"1".to_string())] {
            let page = AssetPageBody {
                items: vec![
                    AssetItem {
                        asset: a.clone(),
                        aggregates: None,
                    },
                    AssetItem {
                        asset: b.clone(),
                        aggregates: None,
                    },
                ],
                next_cursor: cursor.clone(),
            };
            let mut expected = json!({ "items": [a.to_json(), b.to_json()] });
            if let Some(c) = &cursor {
                expected["nextCursor"] = json!(c);
            }
            assert_eq!(
                serde_json::to_string(&page).unwrap(),
                serde_json::to_string(&expected).unwrap()
            );
        }
    }
}
