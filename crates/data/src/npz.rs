//! Reader for NumPy `.npz` archives of unsigned-byte arrays (the MedMNIST
//! layout: `train_images`, `train_labels`, `val_*`, `test_*`).

use crate::DataError;
use crate::idx::IdxArray;
use std::io::Read;
use std::path::Path;

/// Reads array `key` (without `.npy`) from an `.npz` archive held in memory.
/// Only C-ordered `uint8` arrays are accepted, which is what image data sets
/// ship; anything else is a clear error naming the archive and the array.
pub fn read_npz_array(path: &Path, archive: &[u8], key: &str) -> Result<IdxArray, DataError> {
    let corrupt = |message: String| DataError::Corrupt {
        file: path.to_path_buf(),
        message,
    };
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive))
        .map_err(|e| corrupt(format!("not a valid .npz (zip) archive: {e}")))?;
    let name = format!("{key}.npy");
    let mut entry = zip
        .by_name(&name)
        .map_err(|_| corrupt(format!("array `{key}` is missing from the archive")))?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| corrupt(format!("array `{key}` is damaged: {e}")))?;
    parse_npy(&bytes).map_err(|m| corrupt(format!("array `{key}`: {m}")))
}

/// Parses the `.npy` format (versions 1–3) for `uint8` data.
fn parse_npy(bytes: &[u8]) -> Result<IdxArray, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy array".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| "the .npy header is not text")?;
    let field = |name: &str| -> Option<&str> {
        let at = header.find(&format!("'{name}'"))? + name.len() + 2;
        Some(
            header[at..]
                .trim_start()
                .trim_start_matches(':')
                .trim_start(),
        )
    };
    let descr = field("descr").ok_or("the .npy header has no `descr`")?;
    if !(descr.starts_with("'|u1'") || descr.starts_with("'<u1'")) {
        return Err(format!(
            "element type {} is not supported; expected unsigned bytes ('|u1')",
            descr.split(',').next().unwrap_or(descr)
        ));
    }
    if field("fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    let shape = field("shape").ok_or("the .npy header has no `shape`")?;
    let inner = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("malformed `shape`")?;
    let dims: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("malformed `shape` entry `{s}`"))
        })
        .collect::<Result<_, _>>()?;
    let expected: usize = dims.iter().product();
    let data = &bytes[start + header_len..];
    if data.len() != expected {
        return Err(format!(
            "shape {dims:?} needs {expected} bytes, the array holds {}: truncated or damaged",
            data.len()
        ));
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// Builds an `.npz` with uint8 arrays, as numpy's `savez_compressed` does.
    pub(crate) fn npz(arrays: &[(&str, &[usize], &[u8])]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut out);
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (key, dims, data) in arrays {
                let shape = dims.iter().map(|d| format!("{d},")).collect::<String>();
                let mut header =
                    format!("{{'descr': '|u1', 'fortran_order': False, 'shape': ({shape}), }}");
                while (10 + header.len() + 1) % 64 != 0 {
                    header.push(' ');
                }
                header.push('\n');
                zip.start_file(format!("{key}.npy"), options).unwrap();
                zip.write_all(b"\x93NUMPY\x01\x00").unwrap();
                zip.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
                zip.write_all(header.as_bytes()).unwrap();
                zip.write_all(data).unwrap();
            }
            zip.finish().unwrap();
        }
        out.into_inner()
    }

    #[test]
    fn reads_arrays_and_names_what_is_wrong() {
        let archive = npz(&[
            ("train_images", &[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]),
            ("train_labels", &[2, 1], &[0, 1]),
        ]);
        let a = read_npz_array(Path::new("d.npz"), &archive, "train_images").unwrap();
        assert_eq!((a.count(), a.item_len()), (2, 4));
        assert_eq!(
            read_npz_array(Path::new("d.npz"), &archive, "train_labels")
                .unwrap()
                .item_len(),
            1
        );
        let err = read_npz_array(Path::new("d.npz"), &archive, "val_images")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("d.npz") && err.contains("`val_images` is missing"),
            "{err}"
        );
        let err = read_npz_array(Path::new("d.npz"), b"not a zip", "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a valid .npz"), "{err}");
        let short = npz(&[("x", &[3, 3], &[0; 5])]);
        let err = read_npz_array(Path::new("d.npz"), &short, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn reads_the_shared_breastmnist_archive_layout() {
        let path = std::env::var_os("INDUS_DATA_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
            .join("medical/breastmnist.npz");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let images = read_npz_array(&path, &bytes, "train_images").unwrap();
        assert_eq!(images.dims, [546, 28, 28]);
        assert_eq!(
            read_npz_array(&path, &bytes, "test_labels").unwrap().dims,
            [156, 1]
        );
    }
}
