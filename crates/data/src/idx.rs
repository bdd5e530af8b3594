//! Reader and writer for the IDX format (MNIST's image and label files),
//! plain or gzip-compressed.

use crate::DataError;
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

/// An unsigned-byte IDX array: dimensions and the flat values.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// Sizes of each dimension, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// Values in row-major order.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// Number of items along the first dimension.
    pub fn count(&self) -> usize {
        self.dims.first().copied().unwrap_or(0)
    }

    /// Values per item (product of the remaining dimensions).
    pub fn item_len(&self) -> usize {
        self.dims.iter().skip(1).product()
    }
}

/// Reads a whole file, transparently decompressing `.gz` (detected by its
/// magic bytes, not the name).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    decompress_if_gz(path, raw)
}

/// Decompresses `raw` when it starts with the gzip magic bytes.
pub fn decompress_if_gz(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| DataError::Corrupt {
                file: path.to_path_buf(),
                message: format!("gzip stream is damaged or truncated ({e})"),
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses decompressed IDX bytes; `path` is only used in error messages.
pub fn parse_idx(path: &Path, bytes: &[u8]) -> Result<IdxArray, DataError> {
    let corrupt = |message: String| DataError::Corrupt {
        file: path.to_path_buf(),
        message,
    };
    if bytes.len() < 4 {
        return Err(corrupt(format!(
            "too short for an IDX header ({} bytes)",
            bytes.len()
        )));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(corrupt(
            "not an IDX file (the first two bytes must be zero)".into(),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(corrupt(format!(
            "unsupported IDX element type 0x{:02x}; only unsigned bytes (0x08) are supported",
            bytes[2]
        )));
    }
    let ndims = bytes[3] as usize;
    if ndims == 0 {
        return Err(corrupt("IDX header declares zero dimensions".into()));
    }
    let header_len = 4 + 4 * ndims;
    if bytes.len() < header_len {
        return Err(corrupt(format!(
            "truncated IDX header: {ndims} dimensions need {header_len} bytes, file has {}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| corrupt("IDX dimensions overflow".into()))?;
    let body = &bytes[header_len..];
    if body.len() != expected {
        return Err(corrupt(format!(
            "IDX header promises {expected} values ({}), but the file holds {}: the file is truncated or damaged",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(" x "),
            body.len()
        )));
    }
    Ok(IdxArray {
        dims,
        data: body.to_vec(),
    })
}

/// Reads an IDX file (plain or gzip).
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    parse_idx(path, &read_maybe_gz(path)?)
}

/// Encodes an unsigned-byte IDX array (used by tests and `indus` fixtures).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&(*d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_truncation() {
        let bytes = encode_idx(&[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]);
        let a = parse_idx(Path::new("x"), &bytes).unwrap();
        assert_eq!((a.count(), a.item_len()), (2, 4));
        let err = parse_idx(Path::new("x.idx"), &bytes[..bytes.len() - 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.idx") && err.contains("truncated"), "{err}");
    }

    #[test]
    fn rejects_non_idx_content() {
        let err = parse_idx(Path::new("y"), b"hello world")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an IDX file"), "{err}");
    }

    #[test]
    fn damaged_gzip_is_reported() {
        let mut gz = Vec::new();
        {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
            enc.write_all(&encode_idx(&[100], &[7; 100])).unwrap();
        }
        gz.truncate(gz.len() / 2);
        let err = decompress_if_gz(Path::new("z.gz"), gz)
            .unwrap_err()
            .to_string();
        assert!(err.contains("z.gz") && err.contains("gzip"), "{err}");
    }
}
