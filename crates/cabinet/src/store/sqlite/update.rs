//! `update` of the SQLite store: applies file patches inside one write job.

use std::collections::HashMap;

use super::hide_missing;
use super::rows::{
    file_by_external_id, project_id, reindex_geo_location, resolve_all, sql_err, update_file,
};
use super::writer::WriteCtx;
use crate::auth::FileScope;
use crate::domain::{FileRecord, FileUpdate, Identifier};
use crate::store::StoreError;

/// Resolves every target, applies every patch and writes the results, or fails without changing anything
/// (the caller's write job runs in a savepoint that an `Err` rolls back).
///
/// - Every target is resolved against the files as they were before the request, so an item naming a file
///   by an externalId that an earlier item changes still finds that file. Unknown targets fail the call
///   with all of them, as given.
/// - Items naming the same file (by id and by externalId, say) apply in request order to one record, and
///   each of them answers with the file as it is after the whole request.
/// - A result over a limit is [`StoreError::Invalid`] naming `items[i].update.<field>`.
/// - An externalId that ends up on two files, whether through another file that keeps it or through two
///   items of the batch, is [`StoreError::Duplicated`]; swapping externalIds within one request is fine.
/// - Every updated file gets `lastUpdatedTime = now`; nothing else outside the patches changes.
pub(super) fn update_files(
    ctx: &mut WriteCtx<'_>,
    project: &str,
    items: Vec<FileUpdate>,
    now: i64,
    scope: &FileScope,
) -> Result<Vec<FileRecord>, StoreError> {
    if items.is_empty() {
        return Ok(vec![]);
    }
    let conn = ctx.conn;
    let pid = project_id(conn, project)?;
    let targets: Vec<Identifier> = items.iter().map(|u| u.target.clone()).collect();
    let found = resolve_all(conn, pid, &targets, false).map_err(|e| hide_missing(e, scope))?;
    let Some(pid) = pid else {
        return Err(hide_missing(StoreError::Missing(targets), scope));
    };
    // A file outside the caller's scope is refused before any patch is checked, so no validation
    // message says anything about it.
    if found.iter().any(|f| !scope.covers(f)) {
        return Err(StoreError::OutOfScope);
    }

    // One working copy per distinct file, in the order the request first names them.
    let mut files: Vec<FileRecord> = Vec::new();
    let mut original_external_ids: Vec<Option<String>> = Vec::new();
    let mut original_geo: Vec<Option<crate::domain::GeoLocation>> = Vec::new();
    let mut slot_of_file: HashMap<i64, usize> = HashMap::new();
    let mut slot_of_item: Vec<usize> = Vec::with_capacity(items.len());
    for (i, (item, file)) in items.iter().zip(found).enumerate() {
        let slot = match slot_of_file.get(&file.id) {
            Some(&slot) => slot,
            None => {
                slot_of_file.insert(file.id, files.len());
                original_external_ids.push(file.external_id.clone());
                original_geo.push(file.geo_location.clone());
                files.push(file);
                files.len() - 1
            }
        };
        let record = files.get_mut(slot).ok_or_else(|| {
            StoreError::internal("sqlite", std::io::Error::other("lost a working copy"))
        })?;
        item.patch
            .apply(record)
            .map_err(|e| StoreError::Invalid(e.within(&format!("items[{i}].update"))))?;
        slot_of_item.push(slot);
    }
    // Moving a file into a data set needs WRITE there too, and giving it a security category needs
    // membership of that category (removing one needed it already: the file was covered before).
    if files.iter().any(|f| !scope.covers(f)) {
        return Err(StoreError::OutOfScope);
    }

    check_external_ids(conn, pid, &files, &original_external_ids, &slot_of_file)?;
    let geo_changed: Vec<bool> = files
        .iter()
        .zip(&original_geo)
        .map(|(f, g)| f.geo_location != *g)
        .collect();

    // Free the externalIds that change before writing any file, so that a swap within the batch does not
    // trip the unique index halfway.
    for (file, original) in files.iter().zip(&original_external_ids) {
        if original.is_some() && file.external_id != *original {
            conn.prepare_cached(
                "UPDATE files SET external_id = NULL WHERE project_id = ?1 AND id = ?2",
            )
            .and_then(|mut st| st.execute(rusqlite::params![pid, file.id]))
            .map_err(sql_err)?;
        }
    }
    for file in &mut files {
        file.last_updated_time = now;
        update_file(conn, pid, file)?;
        if geo_changed[slot_of_file[&file.id]] {
            reindex_geo_location(conn, file)?;
        }
    }

    slot_of_item
        .into_iter()
        .map(|slot| {
            files.get(slot).cloned().ok_or_else(|| {
                StoreError::internal("sqlite", std::io::Error::other("lost a working copy"))
            })
        })
        .collect()
}

/// Fails with every externalId that would be on two files after the update: two files of the batch, or a
/// file of the batch and one outside it.
fn check_external_ids(
    conn: &rusqlite::Connection,
    pid: i64,
    files: &[FileRecord],
    original_external_ids: &[Option<String>],
    in_batch: &HashMap<i64, usize>,
) -> Result<(), StoreError> {
    let mut clashes = crate::store::batch::external_ids_twice(files);
    for (file, original) in files.iter().zip(original_external_ids) {
        let Some(x) = &file.external_id else { continue };
        if Some(x) == original.as_ref() || clashes.contains(x) {
            continue;
        }
        // A holder inside the batch gives the externalId up (else the loop above caught it).
        if let Some(holder) = file_by_external_id(conn, pid, x)? {
            if holder.id != file.id && !in_batch.contains_key(&holder.id) {
                clashes.push(x.clone());
            }
        }
    }
    if clashes.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Duplicated(
            clashes.into_iter().map(Identifier::ExternalId).collect(),
        ))
    }
}
