//! The OpenAPI schemas of the resources besides files: groups, security categories, the token
//! inspection, data sets, labels and assets.
//!
//! Their handlers parse `serde_json::Value` field by field (so that every error names its field the way
//! CDF does), so there is no request type to derive a schema from; these documentation types state the
//! same shapes and limits. They are kept honest by the same tests as the files schemas: every request
//! example is validated against its schema and must be accepted by a live server
//! (`tests/fuzz/examples.py`, `tests/api/openapi.rs`), and schemathesis checks every response it gets
//! against the response schemas (`tests/fuzz/run.sh`). Request schemas say `additionalProperties: false`
//! where the parser refuses unknown fields; response schemas do not, so a field added later does not make
//! old answers non-conforming.

#![allow(dead_code)]

use std::collections::BTreeMap;

use utoipa::{OpenApi, ToSchema};

use super::model::LabelRef;
use super::openapi::{ByExternalId, ById, Identifier};

// ---- shared pieces -------------------------------------------------------------------------------

/// A resource by internal id or by externalId.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum IdOrExternalId {
    /// By internal id.
    Id(ById),
    /// By externalId.
    ExternalId(ByExternalId),
}

/// A range of milliseconds since the epoch, both ends included.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// From this time on.
    min: Option<i64>,
    /// Up to this time.
    max: Option<i64>,
}

/// `{"set": "…"}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetText {
    /// The new value.
    set: String,
}

/// `{"setNull": true}`: clear the field.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetNull {
    /// Must be `true`.
    set_null: bool,
}

/// Set an optional text field, or clear it.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum SetOrClearText {
    /// Set it.
    Set(SetText),
    /// Clear it.
    Clear(SetNull),
}

/// `{"set": id}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetId {
    /// The new id.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    set: i64,
}

/// Set an optional id, or clear it.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum SetOrClearId {
    /// Set it.
    Set(SetId),
    /// Clear it.
    Clear(SetNull),
}

/// `{"set": true|false}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetBool {
    /// The new value.
    set: bool,
}

/// Replace the whole metadata.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetadataSet {
    /// The new metadata.
    set: BTreeMap<String, String>,
}

/// Add (or overwrite) and remove metadata keys.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetadataChange {
    /// Keys to add or overwrite.
    add: Option<BTreeMap<String, String>>,
    /// Keys to remove.
    remove: Option<Vec<String>>,
}

/// A change of the metadata: `set`, or `add` and `remove`.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum MetadataUpdate {
    /// Replace it.
    Set(MetadataSet),
    /// Change some keys.
    Change(MetadataChange),
}

/// `{}`: the answer of the deletes.
#[derive(ToSchema)]
pub struct Empty {}

// ---- groups and security categories --------------------------------------------------------------

/// The literal `"allUserAccounts"`: every principal authenticated for the project.
#[derive(ToSchema)]
pub enum AllUserAccounts {
    /// The only value.
    #[serde(rename = "allUserAccounts")]
    AllUserAccounts,
}

/// Who is in a group managed in cabinet.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum GroupMembers {
    /// Every authenticated principal.
    All(AllUserAccounts),
    /// Up to 100 principal ids (a token's `sub`).
    Subjects(Vec<String>),
}

/// `{"appIds": [...]}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupTokenAttributes {
    /// The applications whose tokens the group applies to.
    #[schema(max_items = 255)]
    app_ids: Option<Vec<String>>,
}

/// `{"token": {"appIds": [...]}}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupAttributes {
    /// Conditions on the token.
    token: Option<GroupTokenAttributes>,
}

/// One capability: `{"<acl>": {"actions": [...], "scope": {...}}}` (auth.md §2.1); `filesAcl`,
/// `securityCategoriesAcl`, `datasetsAcl`, `labelsAcl`, `assetsAcl` and `groupsAcl` are enforced, others
/// are kept as given.
#[derive(ToSchema)]
pub struct Capability {}

/// A group to create (`POST /groups`). `sourceId` and `members` are exclusive.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupSpec {
    /// 1 to 255 characters, not only blanks.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    name: String,
    /// The identity provider's group id (up to 255 characters).
    #[schema(max_length = 255)]
    source_id: Option<String>,
    /// Who is in the group, when cabinet manages it.
    members: Option<GroupMembers>,
    /// What members may do.
    #[schema(max_items = 1000)]
    capabilities: Option<Vec<Capability>>,
    /// Up to 16 pairs; keys 1 to 32 bytes, values up to 512, 4096 bytes in all.
    metadata: Option<BTreeMap<String, String>>,
    /// Conditions on the token.
    attributes: Option<GroupAttributes>,
}

/// The body of `POST /groups`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupItems {
    /// 1 to 1000 groups.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<GroupSpec>,
}

/// A group as the API returns it: `sourceId` is `""` for a group managed by `members`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The group's id.
    id: i64,
    /// Its name.
    name: String,
    /// The identity provider's group id, or `""`.
    source_id: String,
    /// Who is in it (absent for a group of the identity provider).
    members: Option<GroupMembers>,
    /// What members may do.
    capabilities: Vec<Capability>,
    /// Its metadata.
    metadata: BTreeMap<String, String>,
    /// Conditions on the token.
    attributes: Option<GroupAttributes>,
    /// Always false.
    is_deleted: bool,
}

/// The answer of `GET /groups` and `POST /groups`.
#[derive(ToSchema)]
pub struct GroupList {
    /// The groups.
    items: Vec<Group>,
}

/// A security category to create.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityCategorySpec {
    /// 1 to 255 characters, not only blanks.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    name: String,
}

/// The body of `POST /securitycategories`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityCategoryItems {
    /// 1 to 1000 categories.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<SecurityCategorySpec>,
}

/// A security category.
#[derive(ToSchema)]
pub struct SecurityCategory {
    /// Its name.
    name: String,
    /// Its id.
    id: i64,
}

/// A page of security categories.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityCategoryPage {
    /// The categories.
    items: Vec<SecurityCategory>,
    /// The next page's cursor, absent on the last page.
    next_cursor: Option<String>,
}

/// A project the token may act in.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenProject {
    /// The project's name.
    project_url_name: String,
    /// The caller's groups there.
    groups: Vec<i64>,
}

/// The answer of `GET /api/v1/token/inspect`: each capability also carries its `projectScope`.
#[derive(ToSchema)]
pub struct TokenInspection {
    /// The caller (`anonymous` in open mode).
    subject: String,
    /// Its projects.
    projects: Vec<TokenProject>,
    /// Its capabilities.
    capabilities: Vec<Capability>,
}

/// One entry of `GET /api/v1/projects`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectListItem {
    /// The project's name.
    project_url_name: String,
}

/// The answer of `GET /api/v1/projects`: in open mode the projects that hold files, with access control
/// the projects where the caller has a group.
#[derive(ToSchema)]
pub struct ProjectList {
    /// The projects, in name order.
    items: Vec<ProjectListItem>,
}

/// `{"claimName": "…"}`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    /// The claim.
    claim_name: String,
}

/// The project's identity provider, as CDF spells it.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OidcConfiguration {
    /// The keys' URL (`""` when they come from a file).
    jwks_url: String,
    /// The issuer.
    issuer: String,
    /// The audience.
    audience: String,
    /// Claims that carry group ids.
    access_claims: Vec<Claim>,
    /// Claims that carry scopes.
    scope_claims: Vec<Claim>,
    /// Always empty.
    log_claims: Vec<Claim>,
    /// Clock skew allowed, in milliseconds.
    skew_ms: i64,
}

/// `{"enabled": false}`.
#[derive(ToSchema)]
pub struct UserProfilesConfiguration {
    /// Always false.
    enabled: bool,
}

/// The answer of `GET /api/v1/projects/{project}`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// The project's name.
    name: String,
    /// The same.
    url_name: String,
    /// User profiles are not kept.
    user_profiles_configuration: UserProfilesConfiguration,
    /// With access control on, the identity provider.
    oidc_configuration: Option<OidcConfiguration>,
}

// ---- data sets -----------------------------------------------------------------------------------

/// A data set to create.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataSetSpec {
    /// 1 to 255 characters, unique in the project.
    #[schema(min_length = 1, max_length = 255)]
    external_id: Option<String>,
    /// Up to 50 characters.
    #[schema(max_length = 50)]
    name: Option<String>,
    /// Up to 255 characters.
    #[schema(max_length = 255)]
    description: Option<String>,
    /// String pairs, with the files' metadata limits.
    metadata: Option<BTreeMap<String, String>>,
    /// Only writers of the data set may change what is in it.
    write_protected: Option<bool>,
}

/// The body of `POST /datasets`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSetItems {
    /// 1 to 10 data sets.
    #[schema(min_items = 1, max_items = 10)]
    items: Vec<DataSetSpec>,
}

/// A data set as the API returns it.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSet {
    /// Its id.
    id: i64,
    /// Its externalId.
    external_id: Option<String>,
    /// Its name.
    name: Option<String>,
    /// Its description.
    description: Option<String>,
    /// Its metadata.
    metadata: BTreeMap<String, String>,
    /// Whether it is write-protected.
    write_protected: bool,
    /// Milliseconds since the epoch.
    created_time: i64,
    /// Milliseconds since the epoch.
    last_updated_time: i64,
}

/// A page of data sets.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSetPage {
    /// The data sets.
    items: Vec<DataSet>,
    /// The next page's cursor, absent on the last page.
    next_cursor: Option<String>,
}

/// The filter of data sets.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataSetFilter {
    /// Pairs every match has.
    metadata: Option<BTreeMap<String, String>>,
    /// Created in this range.
    created_time: Option<TimeRange>,
    /// Last changed in this range.
    last_updated_time: Option<TimeRange>,
    /// Up to 255 characters.
    #[schema(max_length = 255)]
    external_id_prefix: Option<String>,
    /// Write-protected or not.
    write_protected: Option<bool>,
}

/// The body of `POST /datasets/list`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSetListBody {
    /// Which data sets.
    filter: Option<DataSetFilter>,
    /// 1 to 1000 (default 25).
    #[schema(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// From the previous page's `nextCursor`.
    cursor: Option<String>,
}

/// The body of `POST /datasets/aggregate`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSetAggregateBody {
    /// Which data sets.
    filter: Option<DataSetFilter>,
}

/// The changes of a data set.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataSetChanges {
    /// 1 to 255 characters, or clear.
    external_id: Option<SetOrClearText>,
    /// Up to 50 characters, or clear.
    name: Option<SetOrClearText>,
    /// Up to 255 characters, or clear.
    description: Option<SetOrClearText>,
    /// The metadata.
    metadata: Option<MetadataUpdate>,
    /// Write-protected or not.
    write_protected: Option<SetBool>,
}

/// One data set to change, by `id` or `externalId`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataSetUpdate {
    /// The data set by id.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    id: Option<i64>,
    /// Or by externalId.
    #[schema(min_length = 1, max_length = 255)]
    external_id: Option<String>,
    /// What changes.
    update: DataSetChanges,
}

/// The body of `POST /datasets/update`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSetUpdateItems {
    /// 1 to 1000 changes.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<DataSetUpdate>,
}

// ---- labels --------------------------------------------------------------------------------------

/// A label definition to create.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSpec {
    /// 1 to 255 characters, unique in the project.
    #[schema(min_length = 1, max_length = 255)]
    external_id: String,
    /// 1 to 140 characters.
    #[schema(min_length = 1, max_length = 140)]
    name: String,
    /// Up to 500 characters.
    #[schema(max_length = 500)]
    description: Option<String>,
    /// The data set it belongs to.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    data_set_id: Option<i64>,
}

/// The body of `POST /labels`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelItems {
    /// 1 to 1000 label definitions.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<LabelSpec>,
}

/// A label definition as the API returns it.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    /// Its externalId.
    external_id: String,
    /// Its name.
    name: String,
    /// Milliseconds since the epoch.
    created_time: i64,
    /// Its description.
    description: Option<String>,
    /// Its data set.
    data_set_id: Option<i64>,
}

/// A page of label definitions.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelPage {
    /// The label definitions.
    items: Vec<Label>,
    /// The next page's cursor, absent on the last page.
    next_cursor: Option<String>,
}

/// The filter of label definitions.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelFilter {
    /// The whole name, up to 140 characters.
    #[schema(max_length = 140)]
    name: Option<String>,
    /// Up to 255 characters.
    #[schema(max_length = 255)]
    external_id_prefix: Option<String>,
    /// In one of these data sets (up to 100).
    #[schema(max_items = 100)]
    data_set_ids: Option<Vec<IdOrExternalId>>,
}

/// The body of `POST /labels/list`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelListBody {
    /// Which label definitions.
    filter: Option<LabelFilter>,
    /// 1 to 1000 (default 100).
    #[schema(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// From the previous page's `nextCursor`.
    cursor: Option<String>,
}

/// The body of `POST /labels/delete`: externalIds, none twice.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalIdItems {
    /// 1 to 1000 label definitions.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<ByExternalId>,
}

/// The body of `POST /labels/byids`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExternalIdItemsIgnoringUnknown {
    /// 1 to 1000 label definitions.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<ByExternalId>,
    /// Skip unknown ones instead of a 400 with `missing`.
    ignore_unknown_ids: Option<bool>,
}

// ---- assets --------------------------------------------------------------------------------------

/// An asset to create; `parentId` and `parentExternalId` are exclusive (neither: a root).
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssetSpec {
    /// 1 to 255 characters, unique in the project.
    #[schema(min_length = 1, max_length = 255)]
    external_id: Option<String>,
    /// 1 to 140 characters.
    #[schema(min_length = 1, max_length = 140)]
    name: String,
    /// The parent, by id.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    parent_id: Option<i64>,
    /// The parent, by externalId (also one created in the same request).
    #[schema(min_length = 1, max_length = 255)]
    parent_external_id: Option<String>,
    /// Up to 500 characters.
    #[schema(max_length = 500)]
    description: Option<String>,
    /// Its data set.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    data_set_id: Option<i64>,
    /// String pairs, with the files' metadata limits.
    metadata: Option<BTreeMap<String, String>>,
    /// Up to 128 characters.
    #[schema(max_length = 128)]
    source: Option<String>,
    /// Up to 10 labels.
    #[schema(max_items = 10)]
    labels: Option<Vec<LabelRef>>,
}

/// The body of `POST /assets`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetItems {
    /// 1 to 1000 assets.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<AssetSpec>,
}

/// The aggregates an asset may be returned with.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AssetAggregate {
    /// Number of children.
    ChildCount,
    /// Distance from the root.
    Depth,
    /// The ids from the root to the asset.
    Path,
}

/// The aggregates asked for with `aggregatedProperties`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetAggregates {
    /// Number of children.
    child_count: Option<i64>,
    /// Distance from the root.
    depth: Option<i64>,
    /// The ids from the root to the asset.
    path: Option<Vec<ById>>,
}

/// An asset as the API returns it.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    /// Its id.
    id: i64,
    /// Its name.
    name: String,
    /// The root of its hierarchy (itself for a root).
    root_id: i64,
    /// Its metadata.
    metadata: BTreeMap<String, String>,
    /// Milliseconds since the epoch.
    created_time: i64,
    /// Milliseconds since the epoch.
    last_updated_time: i64,
    /// Its externalId.
    external_id: Option<String>,
    /// Its parent.
    parent_id: Option<i64>,
    /// Its description.
    description: Option<String>,
    /// Its data set.
    data_set_id: Option<i64>,
    /// Its source.
    source: Option<String>,
    /// Its labels.
    labels: Option<Vec<LabelRef>>,
    /// With `aggregatedProperties`.
    aggregates: Option<AssetAggregates>,
}

/// The answer of create, byids, search and update.
#[derive(ToSchema)]
pub struct AssetList {
    /// The assets.
    items: Vec<Asset>,
}

/// A page of assets.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetPage {
    /// The assets.
    items: Vec<Asset>,
    /// The next page's cursor, absent on the last page.
    next_cursor: Option<String>,
}

/// `{"containsAny": [...]}` or `{"containsAll": [...]}`.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum LabelCondition {
    /// At least one of them.
    Any(ContainsAny),
    /// All of them.
    All(ContainsAll),
}

/// At least one of these labels.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainsAny {
    /// The labels.
    contains_any: Vec<LabelRef>,
}

/// All of these labels.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainsAll {
    /// The labels.
    contains_all: Vec<LabelRef>,
}

/// The filter of assets (list, search, aggregate).
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssetFilter {
    /// The whole name.
    #[schema(max_length = 140)]
    name: Option<String>,
    /// Children of these (1 to 100).
    #[schema(min_items = 1, max_items = 100)]
    parent_ids: Option<Vec<i64>>,
    /// Children of these (1 to 100).
    #[schema(min_items = 1, max_items = 100)]
    parent_external_ids: Option<Vec<String>>,
    /// In the hierarchies of these roots (1 to 100).
    #[schema(min_items = 1, max_items = 100)]
    root_ids: Option<Vec<IdOrExternalId>>,
    /// In the subtrees of these (1 to 100; unknown ones are a 400 with `missing`).
    #[schema(min_items = 1, max_items = 100)]
    asset_subtree_ids: Option<Vec<IdOrExternalId>>,
    /// Up to 255 characters.
    #[schema(max_length = 255)]
    external_id_prefix: Option<String>,
    /// Pairs every match has.
    metadata: Option<BTreeMap<String, String>>,
    /// The whole source.
    #[schema(max_length = 128)]
    source: Option<String>,
    /// In one of these data sets (1 to 100).
    #[schema(min_items = 1, max_items = 100)]
    data_set_ids: Option<Vec<IdOrExternalId>>,
    /// Label conditions.
    labels: Option<LabelCondition>,
    /// Created in this range.
    created_time: Option<TimeRange>,
    /// Last changed in this range.
    last_updated_time: Option<TimeRange>,
    /// Roots only, or none.
    root: Option<bool>,
}

/// The body of `POST /assets/list`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssetListBody {
    /// Which assets.
    filter: Option<AssetFilter>,
    /// 1 to 1000 (default 100).
    #[schema(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// From the previous page's `nextCursor`.
    cursor: Option<String>,
    /// `m/n`: the m-th of n partitions.
    partition: Option<String>,
    /// Aggregates to add to each asset.
    aggregated_properties: Option<Vec<AssetAggregate>>,
}

/// What to look for: words of the name, of the description, or of either.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetSearchTerms {
    /// Words of the name.
    name: Option<String>,
    /// Words of the description.
    description: Option<String>,
    /// Words of either.
    query: Option<String>,
}

/// The body of `POST /assets/search`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetSearchBody {
    /// Which assets.
    filter: Option<AssetFilter>,
    /// What to look for.
    search: Option<AssetSearchTerms>,
    /// 1 to 1000 (default 100).
    #[schema(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// The only aggregate of assets.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AssetAggregateKind {
    /// How many match.
    Count,
}

/// The body of `POST /assets/aggregate`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetAggregateBody {
    /// Which assets.
    filter: Option<AssetFilter>,
    /// `count` (the default).
    aggregate: Option<AssetAggregateKind>,
}

/// The body of `POST /assets/byids`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssetByIds {
    /// 1 to 1000 assets.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<IdOrExternalId>,
    /// Skip unknown ones instead of a 400 with `missing`.
    ignore_unknown_ids: Option<bool>,
    /// Aggregates to add to each asset.
    aggregated_properties: Option<Vec<AssetAggregate>>,
}

/// The body of `POST /assets/delete`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssetDelete {
    /// 1 to 1000 assets.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<IdOrExternalId>,
    /// Skip unknown ones instead of a 400 with `missing`.
    ignore_unknown_ids: Option<bool>,
    /// Delete the subtrees too (without it, an asset with children is a 400).
    recursive: Option<bool>,
}

/// Add and remove labels.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsChange {
    /// Labels to add.
    add: Option<Vec<LabelRef>>,
    /// Labels to remove.
    remove: Option<Vec<LabelRef>>,
}

/// The changes of an asset; `parentId` and `parentExternalId` move it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssetChanges {
    /// 1 to 255 characters, or clear.
    external_id: Option<SetOrClearText>,
    /// 1 to 140 characters.
    name: Option<SetText>,
    /// Up to 500 characters, or clear.
    description: Option<SetOrClearText>,
    /// Up to 128 characters, or clear.
    source: Option<SetOrClearText>,
    /// The data set, or none.
    data_set_id: Option<SetOrClearId>,
    /// The metadata.
    metadata: Option<MetadataUpdate>,
    /// The labels.
    labels: Option<LabelsChange>,
    /// A new parent by id.
    parent_id: Option<SetId>,
    /// A new parent by externalId.
    parent_external_id: Option<SetText>,
}

/// One asset to change, by `id` or `externalId`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssetUpdate {
    /// The asset by id.
    #[schema(minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    id: Option<i64>,
    /// Or by externalId.
    #[schema(min_length = 1, max_length = 255)]
    external_id: Option<String>,
    /// What changes.
    update: AssetChanges,
}

/// The body of `POST /assets/update`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetUpdateItems {
    /// 1 to 1000 changes.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<AssetUpdate>,
}

/// The schemas of this module, merged into the document by `openapi::document`.
#[derive(OpenApi)]
#[openapi(components(schemas(
    Empty,
    GroupItems,
    GroupList,
    SecurityCategoryItems,
    SecurityCategoryPage,
    TokenInspection,
    ProjectList,
    Project,
    DataSetItems,
    DataSetPage,
    DataSetListBody,
    DataSetAggregateBody,
    DataSetUpdateItems,
    LabelItems,
    LabelPage,
    LabelListBody,
    ExternalIdItems,
    ExternalIdItemsIgnoringUnknown,
    AssetItems,
    AssetList,
    AssetPage,
    AssetListBody,
    AssetSearchBody,
    AssetAggregateBody,
    AssetByIds,
    AssetDelete,
    AssetUpdateItems,
    Identifier,
)))]
pub struct ResourceSchemas;
