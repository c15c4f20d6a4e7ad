//! The population of the assets workload (10): asset hierarchies of depth 6 and files linked to them,
//! generated deterministically so that the loaders of both backends write the same rows and the workload
//! knows every subtree's answer without asking the server.
//!
//! Each hierarchy has 10,111 assets on six levels (fan-outs 10, 10, 10, 3, 2 below the root): a root's
//! subtree is the walk of ~10,000 assets, a child of a root heads a subtree of 1,011 assets (the files
//! filter's ~1,000). Ids are given level by level, all roots first, so a parent's id is below its
//! children's and ids run 1..=N as both stores hand them out from a fresh counter.
//!
//! Each file links to 1–3 distinct assets drawn uniformly from all of them (60 % leaves, 40 % inner nodes),
//! so a 1,011-asset subtree (1 % of the assets) holds about 2 % of the files.

use super::scale_data::Mix;

/// Children per asset on each level below the root.
pub const FANOUT: [u64; 5] = [10, 10, 10, 3, 2];
/// Assets in one hierarchy.
pub const PER_ROOT: u64 = 1 + 10 + 100 + 1000 + 3000 + 6000;
/// Assets in the subtree of a root's child.
pub const PER_CHILD: u64 = 1 + 10 + 100 + 300 + 600;

/// The shape of the hierarchies: `roots` trees of [`PER_ROOT`] assets.
#[derive(Debug, Clone, Copy)]
pub struct Forest {
    /// Number of roots.
    pub roots: u64,
}

/// One asset, as the stores keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenAsset {
    /// 1..=N.
    pub id: i64,
    /// `None` for a root.
    pub parent_id: Option<i64>,
    /// The root's id (its own for a root).
    pub root_id: i64,
    /// 0 for a root, 5 for a leaf.
    pub depth: i64,
    /// Ancestors' ids, root first: "/" for a root, "/1/11/" below 11 below 1.
    pub path: String,
    /// `a<id>`.
    pub external_id: String,
    /// `asset <id>`.
    pub name: String,
}

impl Forest {
    /// About `assets` assets, in whole hierarchies (at least one).
    pub fn about(assets: u64) -> Self {
        Forest {
            roots: ((assets + PER_ROOT / 2) / PER_ROOT).max(1),
        }
    }

    /// Number of assets.
    pub fn len(&self) -> u64 {
        self.roots * PER_ROOT
    }

    /// Assets on level `depth`.
    fn level_len(&self, depth: usize) -> u64 {
        self.roots * FANOUT[..depth].iter().product::<u64>()
    }

    /// The first id of level `depth`.
    fn level_start(&self, depth: usize) -> u64 {
        1 + (0..depth).map(|d| self.level_len(d)).sum::<u64>()
    }

    /// Level and position within it of asset `id`.
    fn locate(&self, id: u64) -> (usize, u64) {
        let mut start = 1;
        for d in 0..=FANOUT.len() {
            let n = self.level_len(d);
            if id < start + n {
                return (d, id - start);
            }
            start += n;
        }
        (FANOUT.len(), id.saturating_sub(start))
    }

    /// The parent's id of asset `id`, `None` for a root.
    pub fn parent(&self, id: u64) -> Option<u64> {
        let (d, k) = self.locate(id);
        (d > 0).then(|| self.level_start(d - 1) + k / FANOUT[d - 1])
    }

    /// Asset `id` (1..=N) with its place in the hierarchy.
    pub fn asset(&self, id: u64) -> GenAsset {
        let mut ancestors = Vec::new();
        let mut p = self.parent(id);
        while let Some(a) = p {
            ancestors.push(a);
            p = self.parent(a);
        }
        ancestors.reverse();
        let mut path = String::from("/");
        for a in &ancestors {
            path.push_str(&a.to_string());
            path.push('/');
        }
        GenAsset {
            id: id as i64,
            parent_id: ancestors.last().map(|a| *a as i64),
            root_id: ancestors.first().copied().unwrap_or(id) as i64,
            depth: ancestors.len() as i64,
            path,
            external_id: format!("a{id}"),
            name: format!("asset {id}"),
        }
    }

    /// The ids of the roots: heads of the ~10,000-asset subtrees.
    pub fn roots(&self) -> Vec<i64> {
        (1..=self.roots as i64).collect()
    }

    /// The ids of the roots' children: heads of the 1,011-asset subtrees.
    pub fn children_of_roots(&self) -> Vec<i64> {
        let start = self.level_start(1);
        (start..start + self.level_len(1))
            .map(|i| i as i64)
            .collect()
    }

    /// Every id in the subtree of `id` (itself included), computed from the shape, in id order.
    pub fn subtree(&self, id: u64) -> Vec<i64> {
        let (d, k) = self.locate(id);
        let mut out = vec![id as i64];
        let (mut lo, mut hi) = (k, k + 1);
        for level in d + 1..=FANOUT.len() {
            lo *= FANOUT[level - 1];
            hi *= FANOUT[level - 1];
            let start = self.level_start(level);
            out.extend((start + lo..start + hi).map(|i| i as i64));
        }
        out
    }
}

/// The assets file `i` links to: 1–3 distinct ids in 1..=`assets`.
pub fn file_links(i: u64, assets: u64) -> Vec<i64> {
    let mut r = Mix::new(0xa55e_7000 ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let k = 1 + r.below(3) as usize;
    let mut ids: Vec<i64> = Vec::with_capacity(k);
    while ids.len() < k.min(assets as usize) {
        let id = 1 + r.below(assets) as i64;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The name of file `i`.
pub fn file_name(i: u64) -> String {
    format!("doc-{i:07}.pdf")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_has_the_sizes_the_workload_promises() {
        let f = Forest::about(100_000);
        assert_eq!(f.roots, 10);
        assert_eq!(f.len(), 101_110);
        assert_eq!(f.subtree(1).len() as u64, PER_ROOT);
        let child = f.children_of_roots()[3];
        assert_eq!(f.subtree(child as u64).len() as u64, PER_CHILD);
        assert_eq!(f.children_of_roots().len(), 100);
        assert_eq!(Forest::about(10_000).roots, 1);
        // Every asset is in exactly one root's subtree, and the deepest are at depth 5.
        let mut all: Vec<i64> = f
            .roots()
            .iter()
            .flat_map(|r| f.subtree(*r as u64))
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len() as u64, f.len());
        assert_eq!(f.asset(f.len()).depth, 5);
    }

    #[test]
    fn paths_parents_and_subtrees_agree() {
        let f = Forest { roots: 2 };
        for id in [1u64, 2, 3, 12, 13, 150, 1500, 5000, f.len()] {
            let a = f.asset(id);
            assert_eq!(a.parent_id, f.parent(id).map(|p| p as i64));
            if let Some(p) = a.parent_id {
                let parent = f.asset(p as u64);
                assert_eq!(a.path, format!("{}{p}/", parent.path));
                assert_eq!(a.depth, parent.depth + 1);
                assert_eq!(a.root_id, parent.root_id);
                assert!(p < a.id);
            } else {
                assert_eq!((a.path.as_str(), a.depth, a.root_id), ("/", 0, a.id));
            }
        }
        // The subtree from the shape equals the subtree by path prefix (what the stores compute).
        let child = f.children_of_roots()[7] as u64;
        let head = f.asset(child);
        let prefix = format!("{}{child}/", head.path);
        let mut by_path: Vec<i64> = (1..=f.len())
            .map(|i| f.asset(i))
            .filter(|a| a.id == head.id || a.path.starts_with(&prefix))
            .map(|a| a.id)
            .collect();
        by_path.sort_unstable();
        assert_eq!(by_path, f.subtree(child));
    }

    #[test]
    fn files_link_to_one_to_three_distinct_assets() {
        let mut counts = [0u32; 4];
        for i in 0..3000 {
            let l = file_links(i, 10_111);
            assert!((1..=3).contains(&l.len()));
            assert!(l.iter().all(|a| (1..=10_111).contains(a)));
            let mut d = l.clone();
            d.sort_unstable();
            d.dedup();
            assert_eq!(d.len(), l.len());
            counts[l.len()] += 1;
        }
        assert!(counts[1..].iter().all(|c| *c > 800), "{counts:?}");
        assert_eq!(file_links(42, 10_111), file_links(42, 10_111));
    }
}
