//! Clinical list columns sealed at rest (issue 11 item 7): diagnoses, flag summaries and task
//! titles, which were written in the clear before. New rows are sealed where they are written;
//! rows an older Trellis wrote are sealed here at start-up, the only time the key is at hand,
//! for the columns migration 0110 listed in `columns_to_seal`.

use crate::{Result, Store};

/// Every column sealed after the fact: (table, the column naming a row, column). Each is text
/// read only after its rows are chosen by other columns, so no query filters or sorts on it.
const SEALED_LATER: [(&str, &str, &str); 11] = [
    ("patient_diagnoses", "id", "code"),
    ("patient_diagnoses", "id", "description"),
    ("medications", "id", "name"),
    ("medications", "id", "dose"),
    ("medications", "id", "frequency"),
    // An ingredient row is its medication and code: the compare-and-set below names it.
    ("medication_ingredients", "medication_id", "rxcui"),
    ("drug_screen_results", "id", "analyte"),
    ("drug_screen_results", "id", "result"),
    ("drug_screen_results", "id", "expectation_reason"),
    ("patient_flags", "id", "summary"),
    ("tasks", "id", "title"),
];

/// How many clear values one upgrade transaction seals.
const UPGRADE_BATCH: i64 = 500;

/// Seals every value still in the clear in the columns still listed, in batches of one
/// transaction each, then takes the column off the list (so later start-ups scan nothing). A
/// sealed value starts with the cipher's prefix, and the update only replaces the clear value it
/// read, so running again (or on two servers at once) does nothing twice. Returns how many.
pub(crate) async fn seal_clear_columns(store: &Store) -> Result<u64> {
    let listed: Vec<String> = sqlx::query_scalar("SELECT name FROM columns_to_seal")
        .fetch_all(store.writer())
        .await?;
    let mut sealed = 0u64;
    for (table, key, column) in SEALED_LATER {
        let context = format!("{table}.{column}");
        if !listed.contains(&context) {
            continue;
        }
        loop {
            let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
                "SELECT {key}, {column} FROM {table}
                 WHERE {column} NOT LIKE 'enc:v1:%' ORDER BY {key} LIMIT $1"
            ))
            .bind(UPGRADE_BATCH)
            .fetch_all(store.writer())
            .await?;
            if rows.is_empty() {
                break;
            }
            let mut tx = store.begin().await?;
            for (id, clear) in rows {
                sealed += sqlx::query(&format!(
                    "UPDATE {table} SET {column} = $1 WHERE {key} = $2 AND {column} = $3"
                ))
                .bind(store.seal(&context, &clear)?)
                .bind(id)
                .bind(&clear)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
        }
        sqlx::query("DELETE FROM columns_to_seal WHERE name = $1")
            .bind(&context)
            .execute(store.writer())
            .await?;
    }
    if sealed > 0 {
        tracing::info!(
            values = sealed,
            "sealed clinical list text written before encryption"
        );
    }
    Ok(sealed)
}
