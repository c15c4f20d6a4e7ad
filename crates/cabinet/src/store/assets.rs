//! Assets: CDF's hierarchy of the things files are about. The store keeps, per asset, its root and its
//! ancestors' ids (`path`, "/1/5/" under root 1 and parent 5; "/" for a root), so that a subtree is one
//! range of an index on both backends: the subtree of X is X and every asset whose path starts with
//! [`Asset::subtree_prefix`].
//!
//! What the two backends share lives here: the planning of a create (parents in any order within the
//! request), the application of an update, and the SQL of the list filter (one text with `?`
//! placeholders, in each backend's dialect).

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use serde_json::{json, Value};

use super::StoreError;
use crate::domain::Identifier;

/// Deepest asset below its root (a root has depth 0), as CDF documents for asset hierarchies.
pub const MAX_DEPTH: i64 = 10_000;
/// Most assets a files filter may resolve `assetSubtreeIds`/`rootAssetIds` to (CDF's limit).
pub const MAX_SUBTREE_ASSETS: usize = 100_000;

/// Who an asset's parent is, as the create names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ParentRef {
    /// An asset that exists.
    Id(i64),
    /// An asset that exists or is created in the same request.
    ExternalId(String),
}

/// The fields of an asset a client sets, validated by the API layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetFields {
    /// Unique in the project when set.
    pub external_id: Option<String>,
    /// 1 to 140 characters.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The data set.
    pub data_set_id: Option<i64>,
    /// Free text.
    pub source: Option<String>,
    /// String pairs.
    pub metadata: BTreeMap<String, String>,
    /// Label externalIds.
    pub labels: Vec<String>,
}

/// An asset to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAsset {
    /// What the client sets.
    pub fields: AssetFields,
    /// `None`: a root.
    pub parent: Option<ParentRef>,
}

/// A stored asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    /// In 1..=2^53−1, never reused.
    pub id: i64,
    /// What the client set.
    pub fields: AssetFields,
    /// `None` for a root.
    pub parent_id: Option<i64>,
    /// The root of its hierarchy (itself for a root).
    pub root_id: i64,
    /// 0 for a root.
    pub depth: i64,
    /// Ancestors' ids, root first: "/" for a root, "/1/5/" below 5 below 1.
    pub path: String,
    /// Milliseconds since the epoch.
    pub created_time: i64,
    /// Milliseconds since the epoch.
    pub last_updated_time: i64,
}

impl Asset {
    /// The path prefix of every strict descendant.
    pub fn subtree_prefix(&self) -> String {
        format!("{}{}/", self.path, self.id)
    }

    /// The ids of the ancestors, root first.
    pub fn ancestors(&self) -> Vec<i64> {
        self.path
            .split('/')
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    /// Whether `other` is this asset or one of its descendants.
    pub fn contains(&self, other: &Asset) -> bool {
        other.id == self.id || other.path.starts_with(&self.subtree_prefix())
    }

    /// CDF's JSON of an asset.
    pub fn to_json(&self) -> Value {
        let f = &self.fields;
        let mut o = json!({
            "id": self.id,
            "name": f.name,
            "rootId": self.root_id,
            "metadata": f.metadata,
            "createdTime": self.created_time,
            "lastUpdatedTime": self.last_updated_time,
        });
        let set = |o: &mut Value, k: &str, v: Value| {
            if !v.is_null() {
                o[k] = v;
            }
        };
        set(&mut o, "externalId", json!(f.external_id));
        set(&mut o, "parentId", json!(self.parent_id));
        set(&mut o, "description", json!(f.description));
        set(&mut o, "dataSetId", json!(f.data_set_id));
        set(&mut o, "source", json!(f.source));
        if !f.labels.is_empty() {
            o["labels"] = f
                .labels
                .iter()
                .map(|l| json!({ "externalId": l }))
                .collect();
        }
        o
    }
}

/// A change of one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Set<T> {
    /// Leave it.
    Keep,
    /// Set it.
    To(T),
    /// Clear it.
    Null,
}

/// The changes of one asset (`update` of `POST /assets/update`).
#[derive(Debug, Clone, PartialEq)]
pub struct AssetPatch {
    /// Which asset.
    pub target: Identifier,
    /// `externalId`.
    pub external_id: Set<String>,
    /// `name` (never null).
    pub name: Option<String>,
    /// `description`.
    pub description: Set<String>,
    /// `dataSetId`.
    pub data_set_id: Set<i64>,
    /// `source`.
    pub source: Set<String>,
    /// `metadata.set`: replaces the whole map.
    pub metadata_set: Option<BTreeMap<String, String>>,
    /// `metadata.add`.
    pub metadata_add: BTreeMap<String, String>,
    /// `metadata.remove`.
    pub metadata_remove: Vec<String>,
    /// `labels.add`.
    pub labels_add: Vec<String>,
    /// `labels.remove`.
    pub labels_remove: Vec<String>,
    /// `parentId.set` / `parentExternalId.set`: a new parent in the same root.
    pub parent: Option<ParentRef>,
}

/// Why an asset write or read was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AssetError {
    /// The backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Assets (or parents) that do not exist: a 400 with `missing`.
    #[error("{} asset(s) not found", .0.len())]
    Missing(Vec<Identifier>),
    /// externalIds taken by other assets: a 409 with `duplicated`.
    #[error("{} externalId(s) already exist", .0.len())]
    Duplicated(Vec<Identifier>),
    /// Anything else the client must change: a 400 with this message.
    #[error("{0}")]
    Invalid(String),
}

impl AssetError {
    /// As a [`StoreError`], to leave the SQLite writer's savepoint (which rolls back on `Err`).
    pub fn into_store(self) -> StoreError {
        match self {
            AssetError::Store(e) => e,
            AssetError::Missing(ids) => StoreError::Missing(ids),
            AssetError::Duplicated(ids) => StoreError::Duplicated(ids),
            AssetError::Invalid(m) => StoreError::Invalid(crate::domain::Invalid::new("items", m)),
        }
    }

    /// The inverse of [`AssetError::into_store`].
    pub fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::Missing(ids) => AssetError::Missing(ids),
            StoreError::Duplicated(ids) => AssetError::Duplicated(ids),
            StoreError::Invalid(i) => AssetError::Invalid(i.reason),
            e => AssetError::Store(e),
        }
    }
}

/// A parent reference as an identifier.
pub fn ref_json(r: &ParentRef) -> Identifier {
    match r {
        ParentRef::Id(id) => Identifier::Id(*id),
        ParentRef::ExternalId(x) => Identifier::ExternalId(x.clone()),
    }
}

/// The list filter of assets (`filter` of `/assets/list`, `/assets/search` and `/assets/aggregate`).
/// References by externalId are kept as given and resolved in SQL; `subtrees` is resolved by the API
/// layer (an unknown asset there is a 400).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetFilter {
    /// Exact name.
    pub name: Option<String>,
    /// Parent among these ids.
    pub parent_ids: Option<Vec<i64>>,
    /// Parent among the assets with these externalIds.
    pub parent_external_ids: Option<Vec<String>>,
    /// Root among these ids.
    pub root_ids: Option<Vec<i64>>,
    /// Root among the assets with these externalIds.
    pub root_external_ids: Option<Vec<String>>,
    /// In the subtree of one of these assets (id and subtree prefix), resolved by the API layer.
    pub subtrees: Option<Vec<(i64, String)>>,
    /// Case-sensitive prefix of the externalId.
    pub external_id_prefix: Option<String>,
    /// Every pair present.
    pub metadata: BTreeMap<String, String>,
    /// Exact source.
    pub source: Option<String>,
    /// In one of these data sets (ids; externalIds are resolved to ids before the store sees them).
    pub data_set_ids: Option<Vec<i64>>,
    /// Has at least one of these labels.
    pub labels_any: Option<Vec<String>>,
    /// Has all of these labels.
    pub labels_all: Option<Vec<String>>,
    /// Created within (inclusive).
    pub created_time: Option<(Option<i64>, Option<i64>)>,
    /// Last updated within (inclusive).
    pub last_updated_time: Option<(Option<i64>, Option<i64>)>,
    /// Roots only (`true`) or non-roots only (`false`).
    pub root: Option<bool>,
    /// Words of which at least one must be in the name (`search.name`), compared in lower case.
    pub name_words: Vec<String>,
    /// Words of which at least one must be in the description (`search.description`).
    pub description_words: Vec<String>,
    /// Words of which at least one must be in the name or the description (`search.query`).
    pub query_words: Vec<String>,
}

impl AssetFilter {
    /// Whether `a` satisfies every condition: the reference meaning, which the SQL must agree with.
    /// References by externalId are resolved with `by_external_id`.
    pub fn matches(&self, a: &Asset, by_external_id: &HashMap<String, i64>) -> bool {
        let xids = |xs: &Vec<String>| -> Vec<i64> {
            xs.iter()
                .filter_map(|x| by_external_id.get(x).copied())
                .collect()
        };
        let range = |r: &Option<(Option<i64>, Option<i64>)>, t: i64| {
            r.is_none_or(|(min, max)| min.is_none_or(|m| t >= m) && max.is_none_or(|m| t <= m))
        };
        let has_word = |text: &str, words: &Vec<String>| {
            let text = text.to_lowercase();
            words.is_empty() || words.iter().any(|w| text.contains(w.as_str()))
        };
        let f = &a.fields;
        self.name.as_ref().is_none_or(|n| *n == f.name)
            && self
                .parent_ids
                .as_ref()
                .is_none_or(|ids| a.parent_id.is_some_and(|p| ids.contains(&p)))
            && self
                .parent_external_ids
                .as_ref()
                .is_none_or(|xs| a.parent_id.is_some_and(|p| xids(xs).contains(&p)))
            && self
                .root_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&a.root_id))
            && self
                .root_external_ids
                .as_ref()
                .is_none_or(|xs| xids(xs).contains(&a.root_id))
            && self.subtrees.as_ref().is_none_or(|ts| {
                ts.iter()
                    .any(|(id, prefix)| a.id == *id || a.path.starts_with(prefix.as_str()))
            })
            && self.external_id_prefix.as_ref().is_none_or(|p| {
                f.external_id
                    .as_ref()
                    .is_some_and(|x| x.starts_with(p.as_str()))
            })
            && self
                .metadata
                .iter()
                .all(|(k, v)| f.metadata.get(k) == Some(v))
            && self
                .source
                .as_ref()
                .is_none_or(|s| f.source.as_ref() == Some(s))
            && self
                .data_set_ids
                .as_ref()
                .is_none_or(|ids| f.data_set_id.is_some_and(|d| ids.contains(&d)))
            && self
                .labels_any
                .as_ref()
                .is_none_or(|ls| ls.iter().any(|l| f.labels.contains(l)))
            && self
                .labels_all
                .as_ref()
                .is_none_or(|ls| ls.iter().all(|l| f.labels.contains(l)))
            && range(&self.created_time, a.created_time)
            && range(&self.last_updated_time, a.last_updated_time)
            && self.root.is_none_or(|r| r == a.parent_id.is_none())
            && has_word(&f.name, &self.name_words)
            && has_word(
                f.description.as_deref().unwrap_or_default(),
                &self.description_words,
            )
            && (self.query_words.is_empty()
                || has_word(&f.name, &self.query_words)
                || has_word(
                    f.description.as_deref().unwrap_or_default(),
                    &self.query_words,
                ))
    }
}

/// One page of a list: ids above `after`, in id order, optionally one partition of `of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssetPage {
    /// Continue after this id.
    pub after: Option<i64>,
    /// Most assets.
    pub limit: usize,
    /// `(k, n)`: only ids with `id % n == k - 1`.
    pub partition: Option<(i64, i64)>,
}

/// Where assets live.
///
/// # Contract
/// - Every method is scoped to one project and never reads or changes another's.
/// - Writes are all or nothing and durable on `Ok`; on PostgreSQL the writes of a project are serialized
///   across nodes, so the checks (unknown parents, taken externalIds, children left behind) and the
///   change see the same rows.
/// - Ids are in 1..=2^53−1 and never reused. externalIds are unique per project.
/// - `root_id`, `depth` and `path` always describe the asset's place in its hierarchy, also after a move
///   (the whole moved subtree is rewritten in the same write).
/// - Listing and counting agree with [`AssetFilter::matches`].
#[async_trait]
pub trait AssetStore: Send + Sync + 'static {
    /// Creates `assets` (parents in any order, by id or by externalId of an existing asset or of one in
    /// the request) and returns them in request order. Unknown parents: [`AssetError::Missing`];
    /// externalIds the project has: [`AssetError::Duplicated`]; a cycle among the request's externalIds or
    /// a depth over [`MAX_DEPTH`]: [`AssetError::Invalid`].
    async fn create_assets(
        &self,
        project: &str,
        assets: Vec<NewAsset>,
    ) -> Result<Vec<Asset>, AssetError>;

    /// The assets named (ids and externalIds), in no particular order; unknown ones are left out.
    async fn assets_by_refs(
        &self,
        project: &str,
        refs: &[ParentRef],
    ) -> Result<Vec<Asset>, AssetError>;

    /// One page of the assets matching `filter`, by id.
    async fn list_assets(
        &self,
        project: &str,
        filter: &AssetFilter,
        page: AssetPage,
    ) -> Result<Vec<Asset>, AssetError>;

    /// How many assets match `filter`.
    async fn count_assets(&self, project: &str, filter: &AssetFilter) -> Result<u64, AssetError>;

    /// How many children each of `ids` has.
    async fn child_counts(
        &self,
        project: &str,
        ids: &[i64],
    ) -> Result<HashMap<i64, u64>, AssetError>;

    /// The ids of every asset in the subtrees of `roots` (prefixes from [`Asset::subtree_prefix`]) or,
    /// with `by_root`, of every asset whose root is one of `roots`; [`AssetError::Invalid`] when there are
    /// more than `cap`.
    async fn subtree_ids(
        &self,
        project: &str,
        roots: &[Asset],
        by_root: bool,
        cap: usize,
    ) -> Result<Vec<i64>, AssetError>;

    /// Applies `patches` in order and returns the updated assets. Unknown targets or parents:
    /// [`AssetError::Missing`]; a taken externalId: [`AssetError::Duplicated`]; a move to another root, of
    /// a root, or below itself: [`AssetError::Invalid`].
    async fn update_assets(
        &self,
        project: &str,
        patches: Vec<AssetPatch>,
    ) -> Result<Vec<Asset>, AssetError>;

    /// Deletes `refs` and, with `recursive`, their subtrees. Unknown refs are [`AssetError::Missing`]
    /// unless `ignore_unknown`; without `recursive`, an asset with a child not deleted too is
    /// [`AssetError::Invalid`].
    async fn delete_assets(
        &self,
        project: &str,
        refs: &[ParentRef],
        recursive: bool,
        ignore_unknown: bool,
    ) -> Result<(), AssetError>;
}

/// The refs of `refs` that name none of `found`.
pub fn unknown_refs(refs: &[ParentRef], found: &[Asset]) -> Vec<Identifier> {
    refs.iter()
        .filter(|r| {
            !found.iter().any(|a| match r {
                ParentRef::Id(id) => a.id == *id,
                ParentRef::ExternalId(x) => a.fields.external_id.as_ref() == Some(x),
            })
        })
        .map(ref_json)
        .collect()
}

/// What a create must read before planning: the parents named that are not in the request, and the
/// request's externalIds (to find the taken ones).
pub fn create_lookups(assets: &[NewAsset]) -> Vec<ParentRef> {
    let mut refs: Vec<ParentRef> = Vec::new();
    let mut seen = HashSet::new();
    for a in assets {
        if let Some(x) = &a.fields.external_id {
            if seen.insert(ParentRef::ExternalId(x.clone())) {
                refs.push(ParentRef::ExternalId(x.clone()));
            }
        }
        if let Some(p) = &a.parent {
            if seen.insert(p.clone()) {
                refs.push(p.clone());
            }
        }
    }
    refs
}

/// Plans a create: checks the request against the `existing` assets [`create_lookups`] found, and gives
/// each new asset its id (from `ids`, one per asset, in order), root, depth and path.
pub fn plan_create(
    assets: Vec<NewAsset>,
    existing: &[Asset],
    ids: &[i64],
    now: i64,
) -> Result<Vec<Asset>, AssetError> {
    let taken: Vec<Identifier> = assets
        .iter()
        .filter_map(|a| a.fields.external_id.as_ref())
        .filter(|x| {
            existing
                .iter()
                .any(|e| e.fields.external_id.as_ref() == Some(*x))
        })
        .map(|x| Identifier::ExternalId(x.clone()))
        .collect();
    if !taken.is_empty() {
        return Err(AssetError::Duplicated(taken));
    }
    let in_request: HashMap<&str, usize> = assets
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.fields.external_id.as_deref().map(|x| (x, i)))
        .collect();
    // Where each asset's parent is: in the request (index) or stored.
    enum Parent<'a> {
        Root,
        New(usize),
        Stored(&'a Asset),
    }
    let mut parents = Vec::with_capacity(assets.len());
    let mut missing = Vec::new();
    for a in &assets {
        parents.push(match &a.parent {
            None => Parent::Root,
            Some(ParentRef::ExternalId(x)) if in_request.contains_key(x.as_str()) => {
                Parent::New(in_request[x.as_str()])
            }
            Some(r) => match existing.iter().find(|e| match r {
                ParentRef::Id(id) => e.id == *id,
                ParentRef::ExternalId(x) => e.fields.external_id.as_ref() == Some(x),
            }) {
                Some(e) => Parent::Stored(e),
                None => {
                    let j = ref_json(r);
                    if !missing.contains(&j) {
                        missing.push(j);
                    }
                    Parent::Root
                }
            },
        });
    }
    if !missing.is_empty() {
        return Err(AssetError::Missing(missing));
    }
    // (root, depth, path) per asset, resolved iteratively: a request may hold a chain 10,000 deep.
    let mut placed: Vec<Option<(i64, i64, String)>> = vec![None; assets.len()];
    for start in 0..assets.len() {
        let mut chain = Vec::new();
        let mut at = start;
        while placed[at].is_none() {
            if chain.len() > assets.len() {
                return Err(AssetError::Invalid(
                    "The parentExternalIds of the request form a cycle".into(),
                ));
            }
            chain.push(at);
            match &parents[at] {
                Parent::New(p) => at = *p,
                _ => break,
            }
        }
        while let Some(i) = chain.pop() {
            let place = match &parents[i] {
                Parent::Root => (ids[i], 0, "/".to_string()),
                Parent::Stored(p) => (p.root_id, p.depth + 1, p.subtree_prefix()),
                Parent::New(p) => {
                    let Some((root, depth, path)) = placed[*p].clone() else {
                        return Err(AssetError::Invalid(
                            "The parentExternalIds of the request form a cycle".into(),
                        ));
                    };
                    (root, depth + 1, format!("{path}{}/", ids[*p]))
                }
            };
            if place.1 > MAX_DEPTH {
                return Err(AssetError::Invalid(format!(
                    "An asset hierarchy may be at most {MAX_DEPTH} levels deep"
                )));
            }
            placed[i] = Some(place);
        }
    }
    assets
        .into_iter()
        .zip(placed)
        .enumerate()
        .map(|(i, (a, place))| {
            let (root_id, depth, path) = place.ok_or_else(|| {
                AssetError::Invalid("The parentExternalIds of the request form a cycle".into())
            })?;
            let parent_id = match &parents[i] {
                Parent::Root => None,
                Parent::New(p) => Some(ids[*p]),
                Parent::Stored(p) => Some(p.id),
            };
            Ok(Asset {
                id: ids[i],
                fields: a.fields,
                parent_id,
                root_id,
                depth,
                path,
                created_time: now,
                last_updated_time: now,
            })
        })
        .collect()
}

/// Applies `patch` to `asset` (its new parent, if it names one, already looked up as `new_parent`).
/// Returns whether the asset moved.
pub fn apply_patch(
    asset: &mut Asset,
    patch: &AssetPatch,
    new_parent: Option<&Asset>,
    now: i64,
) -> Result<bool, AssetError> {
    let f = &mut asset.fields;
    let set = |field: &mut Option<String>, s: &Set<String>| match s {
        Set::Keep => {}
        Set::To(v) => *field = Some(v.clone()),
        Set::Null => *field = None,
    };
    set(&mut f.external_id, &patch.external_id);
    set(&mut f.description, &patch.description);
    set(&mut f.source, &patch.source);
    match patch.data_set_id {
        Set::Keep => {}
        Set::To(v) => f.data_set_id = Some(v),
        Set::Null => f.data_set_id = None,
    }
    if let Some(n) = &patch.name {
        f.name = n.clone();
    }
    if let Some(m) = &patch.metadata_set {
        f.metadata = m.clone();
    }
    for (k, v) in &patch.metadata_add {
        f.metadata.insert(k.clone(), v.clone());
    }
    for k in &patch.metadata_remove {
        f.metadata.remove(k);
    }
    for l in &patch.labels_add {
        if !f.labels.contains(l) {
            f.labels.push(l.clone());
        }
    }
    f.labels.retain(|l| !patch.labels_remove.contains(l));
    asset.last_updated_time = now;
    let Some(parent) = new_parent else {
        return Ok(false);
    };
    if asset.parent_id == Some(parent.id) {
        return Ok(false);
    }
    if asset.parent_id.is_none() {
        return Err(AssetError::Invalid(format!(
            "Asset {} is a root; a root cannot be given a parent",
            asset.id
        )));
    }
    if parent.root_id != asset.root_id {
        return Err(AssetError::Invalid(format!(
            "Asset {} can only be moved within its own hierarchy (root {})",
            asset.id, asset.root_id
        )));
    }
    if asset.contains(parent) {
        return Err(AssetError::Invalid(format!(
            "Asset {} cannot be moved below itself",
            asset.id
        )));
    }
    asset.parent_id = Some(parent.id);
    asset.depth = parent.depth + 1;
    asset.path = parent.subtree_prefix();
    Ok(true)
}

/// The SQL dialect of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `?` placeholders, json_each/json_extract.
    Sqlite,
    /// `$n` placeholders with casts, jsonb.
    Postgres,
}

/// A bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// An integer.
    Int(i64),
    /// A text.
    Text(String),
}

/// The columns every asset query selects, in [`Asset`] order.
pub const COLUMNS: &str = "id, external_id, name, parent_id, root_id, depth, path, description, \
                           data_set_id, source, metadata, labels, created_time, last_updated_time";

/// Builds the WHERE clause of a filter.
pub struct Where {
    dialect: Dialect,
    /// The conditions, joined by AND.
    pub parts: Vec<String>,
    /// The values, in placeholder order.
    pub args: Vec<Arg>,
}

impl Where {
    /// A clause that starts with `project = ?`.
    pub fn new(dialect: Dialect, project: &str) -> Self {
        let mut w = Self {
            dialect,
            parts: Vec::new(),
            args: Vec::new(),
        };
        let p = w.bind(Arg::Text(project.to_string()));
        w.parts.push(format!("project = {p}"));
        w
    }

    /// A placeholder for `arg`.
    pub fn bind(&mut self, arg: Arg) -> String {
        let cast = match &arg {
            Arg::Int(_) => "bigint",
            Arg::Text(_) => "text",
        };
        self.args.push(arg);
        match self.dialect {
            Dialect::Sqlite => "?".into(),
            Dialect::Postgres => format!("${}::{cast}", self.args.len()),
        }
    }

    fn ints(&mut self, ids: &[i64]) -> String {
        let list: Vec<String> = ids.iter().map(|i| self.bind(Arg::Int(*i))).collect();
        if list.is_empty() {
            "NULL".into()
        } else {
            list.join(", ")
        }
    }

    fn texts(&mut self, xs: &[String]) -> String {
        let list: Vec<String> = xs.iter().map(|x| self.bind(Arg::Text(x.clone()))).collect();
        if list.is_empty() {
            "NULL".into()
        } else {
            list.join(", ")
        }
    }

    /// The rows of the subtree with this prefix (not the subtree's top): a range of the path index.
    pub fn below(&mut self, prefix: &str) -> String {
        // '/' is followed by '0' in byte order: every path starting with the prefix sorts below this.
        let end = format!("{}0", &prefix[..prefix.len() - 1]);
        let lo = self.bind(Arg::Text(prefix.to_string()));
        let hi = self.bind(Arg::Text(end));
        format!("(path >= {lo} AND path < {hi})")
    }

    /// The subtree of asset `id`, whose strict descendants' paths start with `prefix`, in a form that
    /// walks `assets_by_root` (project, root_id, id) in listing order: a subtree lies inside its root's
    /// hierarchy, and the root is the first id of the prefix. The subtree of a root is its whole
    /// hierarchy, `root_id = id` alone; below a root, the path range is tested on the hierarchy's rows.
    /// Without the root, a page walked the primary key and skipped every other hierarchy's rows (32,000
    /// for a page of 1,000 of the last of ten roots), or sorted the whole range on every page.
    fn subtree(&mut self, id: i64, prefix: &str) -> String {
        let root = prefix
            .split('/')
            .find(|s| !s.is_empty())
            .and_then(|s| s.parse::<i64>().ok());
        match root {
            Some(root) if prefix == format!("/{root}/") && root == id => {
                let p = self.bind(Arg::Int(root));
                format!("root_id = {p}")
            }
            Some(root) => {
                let r = self.bind(Arg::Int(root));
                let p = self.bind(Arg::Int(id));
                let below = self.below(prefix);
                format!("(root_id = {r} AND (id = {p} OR {below}))")
            }
            None => {
                let p = self.bind(Arg::Int(id));
                let below = self.below(prefix);
                format!("(id = {p} OR {below})")
            }
        }
    }

    fn has_label(&mut self, label: &str) -> String {
        let p = self.bind(Arg::Text(label.to_string()));
        match self.dialect {
            Dialect::Sqlite => {
                format!("EXISTS (SELECT 1 FROM json_each(assets.labels) WHERE value = {p})")
            }
            Dialect::Postgres => format!("jsonb_exists(labels::jsonb, {p})"),
        }
    }

    fn contains_word(&mut self, column: &str, word: &str) -> String {
        let p = self.bind(Arg::Text(word.to_string()));
        match self.dialect {
            Dialect::Sqlite => format!("instr(lower(coalesce({column}, '')), {p}) > 0"),
            Dialect::Postgres => format!("strpos(lower(coalesce({column}, '')), {p}) > 0"),
        }
    }

    fn any_word(&mut self, columns: &[&str], words: &[String]) {
        if words.is_empty() {
            return;
        }
        let mut ors = Vec::new();
        for c in columns {
            for w in words {
                ors.push(self.contains_word(c, w));
            }
        }
        self.parts.push(format!("({})", ors.join(" OR ")));
    }

    /// Adds every condition of `f`.
    pub fn filter(&mut self, project: &str, f: &AssetFilter) {
        let d = self.dialect;
        if let Some(n) = &f.name {
            let p = self.bind(Arg::Text(n.clone()));
            self.parts.push(format!("name = {p}"));
        }
        if let Some(ids) = &f.parent_ids {
            let l = self.ints(ids);
            self.parts.push(format!("parent_id IN ({l})"));
        }
        let by_xid = |w: &mut Where, xs: &[String]| {
            let p = w.bind(Arg::Text(project.to_string()));
            let l = w.texts(xs);
            format!("SELECT id FROM assets WHERE project = {p} AND external_id IN ({l})")
        };
        if let Some(xs) = &f.parent_external_ids {
            let sub = by_xid(self, xs);
            self.parts.push(format!("parent_id IN ({sub})"));
        }
        if let Some(ids) = &f.root_ids {
            let l = self.ints(ids);
            self.parts.push(format!("root_id IN ({l})"));
        }
        if let Some(xs) = &f.root_external_ids {
            let sub = by_xid(self, xs);
            self.parts.push(format!("root_id IN ({sub})"));
        }
        if let Some(trees) = &f.subtrees {
            let mut ors = Vec::new();
            for (id, prefix) in trees {
                ors.push(self.subtree(*id, prefix));
            }
            if ors.is_empty() {
                ors.push("1 = 0".into());
            }
            self.parts.push(format!("({})", ors.join(" OR ")));
        }
        if let Some(prefix) = &f.external_id_prefix {
            let n = self.bind(Arg::Int(prefix.chars().count() as i64));
            let p = self.bind(Arg::Text(prefix.clone()));
            self.parts.push(format!(
                "substr(external_id, 1, CAST({n} AS INTEGER)) = {p}"
            ));
        }
        for (k, v) in &f.metadata {
            match d {
                Dialect::Sqlite => {
                    let k = self.bind(Arg::Text(format!(
                        "$.\"{}\"",
                        k.replace('\\', "\\\\").replace('"', "\\\"")
                    )));
                    let v = self.bind(Arg::Text(v.clone()));
                    // Values are always strings (the API layer checks), so json_extract compares text.
                    self.parts
                        .push(format!("json_extract(metadata, {k}) = {v}"));
                }
                Dialect::Postgres => {
                    let k = self.bind(Arg::Text(k.clone()));
                    let v = self.bind(Arg::Text(v.clone()));
                    self.parts.push(format!("(metadata::jsonb ->> {k}) = {v}"));
                }
            }
        }
        if let Some(s) = &f.source {
            let p = self.bind(Arg::Text(s.clone()));
            self.parts.push(format!("source = {p}"));
        }
        if let Some(ids) = &f.data_set_ids {
            let l = self.ints(ids);
            self.parts.push(format!("data_set_id IN ({l})"));
        }
        if let Some(ls) = &f.labels_any {
            let ors: Vec<String> = ls.iter().map(|l| self.has_label(l)).collect();
            self.parts.push(if ors.is_empty() {
                "1 = 0".into()
            } else {
                format!("({})", ors.join(" OR "))
            });
        }
        if let Some(ls) = &f.labels_all {
            for l in ls {
                let c = self.has_label(l);
                self.parts.push(c);
            }
        }
        for (column, range) in [
            ("created_time", &f.created_time),
            ("last_updated_time", &f.last_updated_time),
        ] {
            if let Some((min, max)) = range {
                if let Some(min) = min {
                    let p = self.bind(Arg::Int(*min));
                    self.parts.push(format!("{column} >= {p}"));
                }
                if let Some(max) = max {
                    let p = self.bind(Arg::Int(*max));
                    self.parts.push(format!("{column} <= {p}"));
                }
            }
        }
        match f.root {
            Some(true) => self.parts.push("parent_id IS NULL".into()),
            Some(false) => self.parts.push("parent_id IS NOT NULL".into()),
            None => {}
        }
        self.any_word(&["name"], &f.name_words);
        self.any_word(&["description"], &f.description_words);
        self.any_word(&["name", "description"], &f.query_words);
    }

    /// Adds the page's bounds and returns the ORDER BY / LIMIT tail.
    pub fn page(&mut self, page: AssetPage) -> String {
        if let Some(after) = page.after {
            let p = self.bind(Arg::Int(after));
            self.parts.push(format!("id > {p}"));
        }
        if let Some((k, n)) = page.partition {
            let n = self.bind(Arg::Int(n));
            let k = self.bind(Arg::Int(k - 1));
            self.parts.push(format!("id % {n} = {k}"));
        }
        let l = self.bind(Arg::Int(page.limit as i64));
        format!("ORDER BY id LIMIT {l}")
    }

    /// The conditions joined by AND.
    pub fn clause(&self) -> String {
        self.parts.join(" AND ")
    }
}

/// The JSON text of metadata and labels as stored.
pub fn json_columns(f: &AssetFields) -> Result<(String, String), StoreError> {
    let m = serde_json::to_string(&f.metadata).map_err(|e| StoreError::internal("assets", e))?;
    let l = serde_json::to_string(&f.labels).map_err(|e| StoreError::internal("assets", e))?;
    Ok((m, l))
}

/// Decodes the stored metadata and labels.
pub fn parse_json_columns(
    metadata: &str,
    labels: &str,
) -> Result<(BTreeMap<String, String>, Vec<String>), StoreError> {
    let m = serde_json::from_str(metadata).map_err(|e| StoreError::internal("assets", e))?;
    let l = serde_json::from_str(labels).map_err(|e| StoreError::internal("assets", e))?;
    Ok((m, l))
}

/// The ids and externalIds of `refs`, apart.
pub fn split_refs(refs: &[ParentRef]) -> (Vec<i64>, Vec<String>) {
    let mut ids = Vec::new();
    let mut xids = Vec::new();
    for r in refs {
        match r {
            ParentRef::Id(id) => ids.push(*id),
            ParentRef::ExternalId(x) => xids.push(x.clone()),
        }
    }
    (ids, xids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(x: &str, parent: Option<&str>) -> NewAsset {
        NewAsset {
            fields: AssetFields {
                external_id: Some(x.into()),
                name: x.into(),
                ..Default::default()
            },
            parent: parent.map(|p| ParentRef::ExternalId(p.into())),
        }
    }

    #[test]
    fn a_hierarchy_in_any_order_gets_roots_depths_and_paths() {
        let planned = plan_create(
            vec![new("c", Some("b")), new("b", Some("a")), new("a", None)],
            &[],
            &[3, 2, 1],
            5,
        )
        .unwrap();
        let a = &planned[2];
        let c = &planned[0];
        assert_eq!((a.root_id, a.depth, a.path.as_str()), (1, 0, "/"));
        assert_eq!((c.root_id, c.depth, c.path.as_str()), (1, 2, "/1/2/"));
        assert!(a.contains(c) && !c.contains(a));
        assert_eq!(c.ancestors(), vec![1, 2]);
    }

    #[test]
    fn cycles_unknown_parents_and_taken_external_ids_are_refused() {
        assert!(matches!(
            plan_create(
                vec![new("a", Some("b")), new("b", Some("a"))],
                &[],
                &[1, 2],
                0
            ),
            Err(AssetError::Invalid(_))
        ));
        assert!(matches!(
            plan_create(vec![new("a", Some("zz"))], &[], &[1], 0),
            Err(AssetError::Missing(m)) if m == vec![Identifier::ExternalId("zz".into())]
        ));
        let stored = plan_create(vec![new("a", None)], &[], &[1], 0).unwrap();
        assert!(matches!(
            plan_create(vec![new("a", None)], &stored, &[2], 0),
            Err(AssetError::Duplicated(_))
        ));
    }

    #[test]
    fn moves_stay_in_their_root_and_never_below_themselves() {
        let mut t = plan_create(
            vec![
                new("a", None),
                new("b", Some("a")),
                new("c", Some("b")),
                new("d", Some("a")),
            ],
            &[],
            &[1, 2, 3, 4],
            0,
        )
        .unwrap();
        let patch = |p: i64| AssetPatch {
            target: Identifier::Id(0),
            external_id: Set::Keep,
            name: None,
            description: Set::Keep,
            data_set_id: Set::Keep,
            source: Set::Keep,
            metadata_set: None,
            metadata_add: BTreeMap::new(),
            metadata_remove: vec![],
            labels_add: vec![],
            labels_remove: vec![],
            parent: Some(ParentRef::Id(p)),
        };
        let (c, d) = (t[2].clone(), t[3].clone());
        assert!(apply_patch(&mut t[1], &patch(3), Some(&c), 1).is_err());
        assert!(apply_patch(&mut t[1], &patch(4), Some(&d), 1).unwrap());
        assert_eq!(t[1].path, "/1/4/");
        assert_eq!(t[1].depth, 2);
    }
}
