//! Encryption of clinical text at rest (HIPAA §164.312(a)(2)(iv)): AES-256-GCM from the aes-gcm
//! crate under data keys, which are stored only wrapped by a master key that never enters the
//! database (it comes from a file or an environment variable). Rotating the master key re-wraps
//! the data keys in one transaction; the encrypted records are untouched, so there is no downtime
//! and backups (copies of the database) stay encrypted.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

use crate::{Instant, Result, Store, StoreError};

const SEALED_PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 12;

/// The key that wraps the data keys. Never stored in the database.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
    fingerprint: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.fingerprint)
    }
}

impl MasterKey {
    /// A master key from its base64 text form (32 random bytes).
    pub fn from_base64(text: &str) -> Result<MasterKey> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| StoreError::Config("the master key is not valid base64".into()))?;
        if bytes.len() != 32 {
            return Err(StoreError::Config(
                "the master key must be 32 bytes (44 base64 characters); create one with `trellis keys generate`".into(),
            ));
        }
        let fingerprint =
            hex::encode(&Sha256::digest([b"trellis-master-key:".as_slice(), &bytes].concat())[..8]);
        Ok(MasterKey {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            fingerprint,
        })
    }

    /// Reads a master key file (base64 text).
    pub fn from_file(path: &Path) -> Result<MasterKey> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StoreError::Config(format!(
                "cannot read the master key file {}: {e}",
                path.display()
            ))
        })?;
        MasterKey::from_base64(&text)
    }

    /// A new random master key and its base64 text form, to save in a file readable only by Trellis.
    pub fn generate() -> (MasterKey, String) {
        let key = Aes256Gcm::generate_key(OsRng);
        let text = B64.encode(key);
        let fingerprint = hex::encode(
            &Sha256::digest([b"trellis-master-key:".as_slice(), key.as_slice()].concat())[..8],
        );
        (
            MasterKey {
                cipher: Aes256Gcm::new(&key),
                fingerprint,
            },
            text,
        )
    }

    /// A short public identifier of the key (not secret), stored beside the wrapped data keys.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn wrap(&self, data_key_id: &str, data_key: &[u8]) -> Result<String> {
        seal_bytes(&self.cipher, &format!("data-key:{data_key_id}"), data_key)
    }

    fn unwrap(&self, data_key_id: &str, wrapped: &str) -> Result<Vec<u8>> {
        open_bytes(&self.cipher, &format!("data-key:{data_key_id}"), wrapped).map_err(|_| {
            StoreError::Config("the master key does not unlock this database's data keys".into())
        })
    }
}

fn seal_bytes(cipher: &Aes256Gcm, context: &str, plaintext: &[u8]) -> Result<String> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| StoreError::Config("encryption failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(B64.encode(out))
}

fn open_bytes(cipher: &Aes256Gcm, context: &str, text: &str) -> Result<Vec<u8>> {
    let bytes = B64
        .decode(text)
        .map_err(|_| StoreError::Corrupt("encrypted value is not base64".into()))?;
    if bytes.len() <= NONCE_LEN {
        return Err(StoreError::Corrupt("encrypted value is too short".into()));
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| StoreError::Corrupt("encrypted value failed authentication".into()))
}

/// The unwrapped data keys, held in memory while Trellis runs.
pub(crate) struct Keyring {
    active_id: String,
    keys: HashMap<String, Aes256Gcm>,
    /// The blind-index key (HKDF from the oldest data key): never stored anywhere.
    index_key: [u8; 32],
}

/// Derives the blind-index key from the oldest data key, so re-wrapping the data keys under a
/// new master key leaves every stored index valid.
fn derive_index_key(secret: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's output limit, so expand cannot fail.
    Hkdf::<Sha256>::new(Some(b"trellis-blind-index-v1"), secret)
        .expand(b"patient identity", &mut key)
        .expect("32 bytes is a valid HKDF length");
    key
}

impl Keyring {
    /// Encrypts text for one column ("progress_notes.body"); the column name is bound into the
    /// ciphertext so a value cannot be moved to another column unnoticed.
    pub(crate) fn seal(&self, column: &str, text: &str) -> Result<String> {
        let cipher = self
            .keys
            .get(&self.active_id)
            .ok_or_else(|| StoreError::Config("no active data key".into()))?;
        Ok(format!(
            "{SEALED_PREFIX}{}:{}",
            self.active_id,
            seal_bytes(cipher, column, text.as_bytes())?
        ))
    }

    /// A blind index of an already normalised value: HMAC-SHA256 under the index key, with the
    /// kind of value ("dob", "last-prefix") bound in so equal texts of different kinds differ.
    /// Truncated to 128 bits, which keeps collisions out of reach.
    pub(crate) fn blind_index(&self, kind: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key)
            .expect("HMAC takes any key length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Decrypts a value sealed for the same column.
    pub(crate) fn open(&self, column: &str, sealed: &str) -> Result<String> {
        let rest = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or_else(|| StoreError::Corrupt(format!("{column} is not encrypted")))?;
        let (key_id, body) = rest.split_once(':').ok_or_else(|| {
            StoreError::Corrupt(format!("{column} has a malformed encrypted value"))
        })?;
        let cipher = self
            .keys
            .get(key_id)
            .ok_or_else(|| StoreError::Corrupt(format!("{column} uses an unknown data key")))?;
        String::from_utf8(open_bytes(cipher, column, body)?)
            .map_err(|_| StoreError::Corrupt(format!("{column} is not UTF-8")))
    }
}

impl Store {
    /// Unlocks encryption with the master key: unwraps the data keys (creating the first on a new
    /// database). Clinical text cannot be read or written until this succeeds.
    pub async fn unlock(&self, master: &MasterKey) -> Result<()> {
        let mut rows: Vec<(String, String, String, Option<Instant>)> = sqlx::query_as(
            "SELECT id, wrapped_key, master_key_fingerprint, retired_at FROM data_keys ORDER BY created_at",
        )
        .fetch_all(&mut *self.read_conn().await?)
        .await?;
        if rows.is_empty() {
            let id = crate::staff::random_secret()[..16].to_owned();
            let key = Aes256Gcm::generate_key(OsRng);
            let wrapped = master.wrap(&id, key.as_slice())?;
            sqlx::query(
                "INSERT INTO data_keys (id, wrapped_key, master_key_fingerprint, created_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&id)
            .bind(&wrapped)
            .bind(master.fingerprint())
            .bind(Instant::now())
            .execute(self.writer())
            .await?;
            rows.push((id, wrapped, master.fingerprint().to_owned(), None));
        }
        let mut keys = HashMap::new();
        let mut active_id = None;
        let mut first_key: Option<Vec<u8>> = None;
        for (id, wrapped, fingerprint, retired_at) in rows {
            if fingerprint != master.fingerprint() {
                return Err(StoreError::Config(format!(
                    "this database's data keys are wrapped by master key {fingerprint}, not {}",
                    master.fingerprint()
                )));
            }
            let bytes = master.unwrap(&id, &wrapped)?;
            first_key.get_or_insert_with(|| bytes.clone());
            keys.insert(
                id.clone(),
                Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
            );
            if retired_at.is_none() {
                active_id = Some(id);
            }
        }
        let active_id = active_id.ok_or_else(|| StoreError::Config("no active data key".into()))?;
        let index_key = derive_index_key(
            first_key
                .as_deref()
                .ok_or_else(|| StoreError::Config("no data key".into()))?,
        );
        // A second unlock (same key) keeps the first keyring: the data keys are the same.
        let _ = self.keyring.set(Keyring {
            active_id,
            keys,
            index_key,
        });
        // The audit chain key comes from the oldest data key: only the master key unwraps it,
        // and re-wrapping under a new master key leaves it (and so the chain) unchanged.
        if let Some(secret) = first_key {
            crate::audit::unlock_chain(self, &secret).await?;
        }
        // Identities written before they were encrypted (an upgraded database) are sealed now:
        // only here is the key at hand.
        crate::patients::seal_clear_identities(self).await?;
        crate::patients::pad_name_tokens(self).await?;
        crate::at_rest::seal_clear_columns(self).await?;
        Ok(())
    }

    /// Re-wraps every data key from the old master key to the new one, in one transaction.
    /// Encrypted records are untouched; a running server keeps working throughout.
    pub async fn rotate_master_key(&self, old: &MasterKey, new: &MasterKey) -> Result<usize> {
        let mut tx = self.begin().await?;
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT id, wrapped_key, master_key_fingerprint FROM data_keys")
                .fetch_all(&mut *tx)
                .await?;
        for (id, wrapped, fingerprint) in &rows {
            if fingerprint != old.fingerprint() {
                return Err(StoreError::Config(format!(
                    "data key {id} is wrapped by master key {fingerprint}, not the old key given ({})",
                    old.fingerprint()
                )));
            }
            let key = old.unwrap(id, wrapped)?;
            sqlx::query(
                "UPDATE data_keys SET wrapped_key = $2, master_key_fingerprint = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(new.wrap(id, &key)?)
            .bind(new.fingerprint())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Encrypts clinical text for a column.
    pub(crate) fn seal(&self, column: &str, text: &str) -> Result<String> {
        self.keyring()?.seal(column, text)
    }

    /// Decrypts clinical text from a column.
    pub(crate) fn open(&self, column: &str, sealed: &str) -> Result<String> {
        self.keyring()?.open(column, sealed)
    }

    /// A blind index (keyed hash) of a normalised value, for equality search on encrypted data.
    pub(crate) fn blind_index(&self, kind: &str, value: &str) -> Result<String> {
        Ok(self.keyring()?.blind_index(kind, value))
    }

    fn keyring(&self) -> Result<&Keyring> {
        self.keyring.get().ok_or_else(|| {
            StoreError::Config(
                "clinical text is encrypted and Trellis was started without its master key".into(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Keyring {
        let mut keys = HashMap::new();
        keys.insert(
            "k1".to_owned(),
            Aes256Gcm::new(&Aes256Gcm::generate_key(OsRng)),
        );
        Keyring {
            active_id: "k1".into(),
            keys,
            index_key: derive_index_key(b"test data key"),
        }
    }

    #[test]
    fn blind_indexes_are_stable_keyed_and_bound_to_their_kind() {
        let ring = keyring();
        let other = Keyring {
            index_key: derive_index_key(b"another data key"),
            ..keyring()
        };
        let a = ring.blind_index("dob", "1988-03-14");
        assert_eq!(a, ring.blind_index("dob", "1988-03-14"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, ring.blind_index("last-prefix", "1988-03-14"));
        assert_ne!(a, ring.blind_index("dob", "1988-03-15"));
        assert_ne!(
            a,
            other.blind_index("dob", "1988-03-14"),
            "another key, another index"
        );
    }

    #[test]
    fn sealed_text_round_trips_and_hides_the_plaintext() {
        let ring = keyring();
        let sealed = ring
            .seal(
                "progress_notes.body",
                "Discussed cravings after the funeral",
            )
            .expect("seal");
        assert!(sealed.starts_with("enc:v1:k1:"));
        assert!(!sealed.contains("cravings"));
        assert_eq!(
            ring.open("progress_notes.body", &sealed).expect("open"),
            "Discussed cravings after the funeral"
        );
        assert_ne!(
            ring.seal("progress_notes.body", "same").expect("seal"),
            ring.seal("progress_notes.body", "same").expect("seal"),
            "fresh nonce each time"
        );
    }

    #[test]
    fn a_value_moved_to_another_column_or_altered_is_refused() {
        let ring = keyring();
        let sealed = ring.seal("progress_notes.body", "text").expect("seal");
        assert!(ring.open("treatment_plans.goal", &sealed).is_err());
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(ring.open("progress_notes.body", &altered).is_err());
    }

    #[test]
    fn master_keys_must_be_32_bytes_of_base64() {
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64(&B64.encode([0u8; 16])).is_err());
        let (key, text) = MasterKey::generate();
        assert_eq!(
            MasterKey::from_base64(&text).expect("parse").fingerprint(),
            key.fingerprint()
        );
    }
}
