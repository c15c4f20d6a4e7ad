use serde::{Deserialize, Serialize};

use super::{Invalid, MAX_EXTERNAL_ID, MAX_ID};

/// One way of naming a file in a request: by internal id, by externalId, or by the instanceId of a
/// data-modeling node. Errors echo identifiers in exactly the form the client sent, so this type keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "IdentifierWire", into = "IdentifierWire")]
pub enum Identifier {
    /// The server-assigned id.
    Id(i64),
    /// The client-chosen externalId.
    ExternalId(String),
    /// A data-modeling node: `{"space", "externalId"}`.
    InstanceId {
        /// The node's space.
        space: String,
        /// The node's externalId within the space.
        external_id: String,
    },
}

impl Identifier {
    /// The JSON object form the client used, as it goes into `missing` and `duplicated`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(IdentifierWire::from(self.clone())).unwrap_or(serde_json::Value::Null)
    }

    /// Checks the value limits: ids in 1..=2^53−1, externalIds of 1 to 255 characters.
    pub fn check(&self) -> Result<(), Invalid> {
        match self {
            Identifier::Id(id) if !(1..=MAX_ID).contains(id) => Err(Invalid::new(
                "id",
                format!("must be between 1 and {MAX_ID}"),
            )),
            Identifier::ExternalId(x) if x.is_empty() || x.chars().count() > MAX_EXTERNAL_ID => {
                Err(Invalid::new(
                    "externalId",
                    format!("must be 1 to {MAX_EXTERNAL_ID} characters"),
                ))
            }
            Identifier::InstanceId { space, external_id } => {
                if space.is_empty() || space.chars().count() > 43 {
                    return Err(Invalid::new(
                        "instanceId.space",
                        "must be 1 to 43 characters",
                    ));
                }
                if external_id.is_empty() || external_id.chars().count() > MAX_EXTERNAL_ID {
                    return Err(Invalid::new(
                        "instanceId.externalId",
                        format!("must be 1 to {MAX_EXTERNAL_ID} characters"),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstanceIdWire {
    space: String,
    #[serde(rename = "externalId")]
    external_id: String,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IdentifierWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    #[serde(rename = "externalId", skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    #[serde(rename = "instanceId", skip_serializing_if = "Option::is_none")]
    instance_id: Option<InstanceIdWire>,
}

impl TryFrom<IdentifierWire> for Identifier {
    type Error = String;

    fn try_from(w: IdentifierWire) -> Result<Self, Self::Error> {
        match (w.id, w.external_id, w.instance_id) {
            (Some(id), None, None) => Ok(Identifier::Id(id)),
            (None, Some(x), None) => Ok(Identifier::ExternalId(x)),
            (None, None, Some(i)) => Ok(Identifier::InstanceId {
                space: i.space,
                external_id: i.external_id,
            }),
            _ => Err(
                "an identifier must have exactly one of id, externalId or instanceId".to_string(),
            ),
        }
    }
}

impl From<Identifier> for IdentifierWire {
    fn from(i: Identifier) -> Self {
        match i {
            Identifier::Id(id) => IdentifierWire {
                id: Some(id),
                ..Default::default()
            },
            Identifier::ExternalId(x) => IdentifierWire {
                external_id: Some(x),
                ..Default::default()
            },
            Identifier::InstanceId { space, external_id } => IdentifierWire {
                instance_id: Some(InstanceIdWire { space, external_id }),
                ..Default::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_each_form() {
        for v in [
            json!({"id": 5}),
            json!({"externalId": "a"}),
            json!({"instanceId": {"space": "s", "externalId": "x"}}),
        ] {
            let parsed: Identifier = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(parsed.to_json(), v);
        }
    }

    #[test]
    fn rejects_two_forms_at_once() {
        assert!(serde_json::from_value::<Identifier>(json!({"id": 1, "externalId": "a"})).is_err());
        assert!(serde_json::from_value::<Identifier>(json!({})).is_err());
    }
}
