//! The synthetic file population of the at-scale workload, and the filters and search words run against it.
//!
//! Values are drawn from fixed vocabularies with known shares, so each filter matches a known fraction of
//! the files (1–20%, like the everyday queries of a document archive), and a tally of what was generated
//! gives the exact share each query matched.

use std::collections::BTreeMap;

use cabinet::domain::FileSpec;
use serde_json::{json, Value};

/// One day in milliseconds.
pub const DAY: i64 = 86_400_000;
/// Files were created over this many days before the load.
pub const SPAN_DAYS: i64 = 365;
/// Share of files whose content gets published (uploaded), in percent.
pub const UPLOADED_PERCENT: u64 = 75;

/// mimeType, file extension, share in percent (they add up to 100).
const MIMES: [(&str, &str, u64); 12] = [
    ("application/pdf", "pdf", 20),
    ("image/jpeg", "jpg", 15),
    ("image/png", "png", 10),
    ("text/csv", "csv", 10),
    ("application/json", "json", 10),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
        8,
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
        7,
    ),
    ("application/xml", "xml", 5),
    ("application/zip", "zip", 5),
    ("image/vnd.dwg", "dwg", 5),
    ("video/mp4", "mp4", 3),
    ("application/octet-stream", "bin", 2),
];
/// The mimeTypes filtered on (5–20% each).
const FILTER_MIMES: [usize; 6] = [0, 2, 3, 7, 8, 9];
const EQUIPMENT: [&str; 12] = [
    "Pump",
    "Valve",
    "Compressor",
    "Turbine",
    "Separator",
    "Heat exchanger",
    "Motor",
    "Transformer",
    "Pipeline",
    "Tank",
    "Boiler",
    "Generator",
];
const DOC_TYPES: [&str; 10] = [
    "inspection report",
    "datasheet",
    "drawing",
    "manual",
    "photo",
    "maintenance log",
    "certificate",
    "procedure",
    "checklist",
    "test report",
];
const TAG_PREFIX: [&str; 6] = ["P", "V", "K", "T", "E", "M"];
const PLANTS: u64 = 20;
const AREAS: u64 = 10;
const FOLDERS: [&str; 5] = ["docs", "drawings", "reports", "photos", "data"];
const SITES: u64 = 40;
const DISCIPLINES: [&str; 8] = [
    "mechanical",
    "electrical",
    "process",
    "instrumentation",
    "civil",
    "safety",
    "piping",
    "structural",
];
const STATUS: [&str; 3] = ["draft", "approved", "archived"];
const SOURCES: [&str; 6] = ["sap", "documentum", "sharepoint", "pi", "maximo", "scanner"];
const DATA_SETS: u64 = 15;
const LABELS: [&str; 4] = ["critical", "reviewed", "legacy", "confidential"];

/// Typical name searches: words, pairs, prefixes, and misspellings (marked for the report).
pub const SEARCHES: [&str; 12] = [
    "pump",
    "valve datasheet",
    "compressor",
    "turbine inspection",
    "heat exchanger",
    "transformer manual",
    "compresor",
    "seperator",
    "boiler maintenence",
    "generatr",
    "pipe",
    "K-12",
];

/// A small, fast, deterministic generator (splitmix64): file `i` is always the same file.
pub struct Mix(u64);

impl Mix {
    /// A generator for stream `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in `lo..hi`.
    pub fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo).max(1) as u64) as i64
    }
}

/// One generated file.
pub struct Generated {
    /// What to create.
    pub spec: FileSpec,
    /// Its createdTime.
    pub created: i64,
    /// When its content was uploaded and how big it is, for the files that get content.
    pub uploaded: Option<(i64, u64)>,
    mime: usize,
    plant: u64,
    site: u64,
    discipline: usize,
    data_set: u64,
}

fn pick_mime(r: u64) -> usize {
    let mut acc = 0;
    for (i, (_, _, share)) in MIMES.iter().enumerate() {
        acc += share;
        if r < acc {
            return i;
        }
    }
    MIMES.len() - 1
}

/// File number `i` of a population created over the year before `now`.
pub fn generate(i: u64, now: i64) -> Generated {
    let mut r = Mix::new(i);
    let mime = pick_mime(r.below(100));
    let (mime_type, ext, _) = MIMES[mime];
    let equipment = EQUIPMENT[r.below(EQUIPMENT.len() as u64) as usize];
    let doc = DOC_TYPES[r.below(DOC_TYPES.len() as u64) as usize];
    let tag = format!(
        "{}-{}",
        TAG_PREFIX[r.below(6) as usize],
        100 + r.below(9900)
    );
    let name = format!("{equipment} {doc} {tag}.{ext}");
    let plant = r.below(PLANTS);
    let area = r.below(AREAS);
    let folder = FOLDERS[r.below(FOLDERS.len() as u64) as usize];
    let site = r.below(SITES);
    let discipline = r.below(DISCIPLINES.len() as u64) as usize;
    let data_set = 1 + r.below(DATA_SETS);
    // Files that never get content are all recent: the server deletes such files after a week (as CDF
    // does), so older ones would not exist in a real archive and would be swept at the first start.
    let has_content = r.below(100) < UPLOADED_PERCENT;
    let created = if has_content {
        now - r.range_i64(DAY / 24, SPAN_DAYS * DAY)
    } else {
        now - r.range_i64(DAY / 24, 6 * DAY)
    };
    let mut metadata = BTreeMap::new();
    metadata.insert("site".to_string(), format!("site-{site:02}"));
    metadata.insert(
        "discipline".to_string(),
        DISCIPLINES[discipline].to_string(),
    );
    metadata.insert(
        "status".to_string(),
        STATUS[r.below(3) as usize].to_string(),
    );
    metadata.insert("revision".to_string(), (1 + r.below(12)).to_string());
    let asset_ids = (r.below(2) == 0).then(|| {
        let k = 1 + r.below(3);
        let mut a: Vec<i64> = (0..k).map(|_| 1 + r.below(10_000) as i64).collect();
        a.sort_unstable();
        a.dedup();
        a
    });
    let labels = (r.below(10) < 3).then(|| vec![LABELS[r.below(4) as usize].to_string()]);
    let source_created_time = (r.below(10) < 6).then(|| created - r.range_i64(0, 30 * DAY));
    let uploaded = has_content.then(|| {
        let at = (created + r.range_i64(60_000, DAY)).min(now);
        (at, 1024 + r.below(10 << 20))
    });
    let spec = FileSpec {
        name,
        external_id: Some(format!("doc-{i:08}")),
        directory: Some(format!("/plant-{plant:02}/area-{area}/{folder}")),
        source: Some(SOURCES[r.below(SOURCES.len() as u64) as usize].to_string()),
        mime_type: Some(mime_type.to_string()),
        metadata: Some(metadata),
        asset_ids,
        data_set_id: Some(data_set as i64),
        source_created_time,
        source_modified_time: source_created_time.map(|t| t + DAY),
        security_categories: None,
        labels,
        geo_location: None,
    };
    Generated {
        spec,
        created,
        uploaded,
        mime,
        plant,
        site,
        discipline,
        data_set,
    }
}

/// How many generated files carry each value, to know how many a filter matches.
pub struct Tally {
    total: u64,
    mime: [u64; 12],
    plant: [u64; PLANTS as usize],
    site: [u64; SITES as usize],
    discipline: [u64; 8],
    data_set: [u64; DATA_SETS as usize + 1],
    /// Sorted by [`Tally::finish`].
    uploaded_times: Vec<i64>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            total: 0,
            mime: [0; 12],
            plant: [0; PLANTS as usize],
            site: [0; SITES as usize],
            discipline: [0; 8],
            data_set: [0; DATA_SETS as usize + 1],
            uploaded_times: Vec::new(),
        }
    }
}

impl Tally {
    /// Counts one file.
    pub fn add(&mut self, g: &Generated) {
        self.total += 1;
        self.mime[g.mime] += 1;
        self.plant[g.plant as usize] += 1;
        self.site[g.site as usize] += 1;
        self.discipline[g.discipline] += 1;
        self.data_set[g.data_set as usize] += 1;
        if let Some((t, _)) = g.uploaded {
            self.uploaded_times.push(t);
        }
    }

    /// Call once every file was added.
    pub fn finish(&mut self) {
        self.uploaded_times.sort_unstable();
    }

    fn share(&self, n: u64) -> f64 {
        n as f64 / self.total.max(1) as f64
    }
}

/// The five everyday list filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// `mimeType`.
    MimeType,
    /// `directoryPrefix` of a plant.
    DirectoryPrefix,
    /// `metadata` key/value (a site or a discipline).
    Metadata,
    /// `dataSetIds` with one data set.
    DataSet,
    /// `uploaded: true` and a 30-day `uploadedTime` window.
    UploadedWindow,
}

impl FilterKind {
    /// All five.
    pub const ALL: [FilterKind; 5] = [
        FilterKind::MimeType,
        FilterKind::DirectoryPrefix,
        FilterKind::Metadata,
        FilterKind::DataSet,
        FilterKind::UploadedWindow,
    ];

    /// The name in the tables.
    pub fn label(self) -> &'static str {
        match self {
            FilterKind::MimeType => "mimeType",
            FilterKind::DirectoryPrefix => "directoryPrefix",
            FilterKind::Metadata => "metadata key/value",
            FilterKind::DataSet => "dataSetIds",
            FilterKind::UploadedWindow => "uploaded + uploadedTime range",
        }
    }

    /// A filter of this kind with values drawn from `r`, and the share of files it matches.
    pub fn make(self, r: &mut Mix, tally: &Tally, now: i64) -> (Value, f64) {
        match self {
            FilterKind::MimeType => {
                let m = FILTER_MIMES[r.below(FILTER_MIMES.len() as u64) as usize];
                (json!({"mimeType": MIMES[m].0}), tally.share(tally.mime[m]))
            }
            FilterKind::DirectoryPrefix => {
                let p = r.below(PLANTS);
                (
                    json!({"directoryPrefix": format!("/plant-{p:02}/")}),
                    tally.share(tally.plant[p as usize]),
                )
            }
            FilterKind::Metadata => {
                if r.below(2) == 0 {
                    let s = r.below(SITES);
                    (
                        json!({"metadata": {"site": format!("site-{s:02}")}}),
                        tally.share(tally.site[s as usize]),
                    )
                } else {
                    let d = r.below(DISCIPLINES.len() as u64) as usize;
                    (
                        json!({"metadata": {"discipline": DISCIPLINES[d]}}),
                        tally.share(tally.discipline[d]),
                    )
                }
            }
            FilterKind::DataSet => {
                let d = 1 + r.below(DATA_SETS);
                (
                    json!({"dataSetIds": [{"id": d}]}),
                    tally.share(tally.data_set[d as usize]),
                )
            }
            FilterKind::UploadedWindow => {
                let min = now - r.range_i64(30 * DAY, SPAN_DAYS * DAY);
                let max = min + 30 * DAY;
                let t = &tally.uploaded_times;
                let n = t.partition_point(|&x| x <= max) - t.partition_point(|&x| x < min);
                (
                    json!({"uploaded": true, "uploadedTime": {"min": min, "max": max}}),
                    tally.share(n as u64),
                )
            }
        }
    }
}
