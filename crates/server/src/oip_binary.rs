//! The Open Inference Protocol's binary tensor data extension: a request
//! or response body is a JSON header of `Inference-Header-Content-Length`
//! bytes followed by raw tensors, each announced in the header by its
//! `binary_data_size`. Numbers are little-endian; a BYTES element is a
//! 4-byte little-endian length and then its bytes; a BOOL is one byte.
//! `tritonclient` sends and asks for tensors this way by default.

use crate::error::ApiError;
use crate::oip::InferInput;
use serde_json::{Value, json};

/// The header naming the JSON part's length (lowercase, as `HeaderName`
/// wants it; HTTP header names are case-insensitive).
pub const BINARY_HEADER: &str = "inference-header-content-length";

/// Fills the `data` of every input announced as binary from `tail`, in
/// input order; every byte of `tail` must belong to one input.
pub fn attach_inputs(inputs: &mut [InferInput], tail: &[u8]) -> Result<(), ApiError> {
    let mut at = 0usize;
    for input in inputs.iter_mut() {
        let Some(size) = input
            .parameters
            .as_ref()
            .and_then(|p| p.get("binary_data_size"))
        else {
            continue;
        };
        let size = size
            .as_u64()
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "input `{}`: binary_data_size must be a whole number of bytes",
                    input.name
                ))
            })?;
        let end = at
            .checked_add(size)
            .filter(|&end| end <= tail.len())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "input `{}` announces {size} binary bytes but only {} follow the JSON header",
                    input.name,
                    tail.len() - at
                ))
            })?;
        if input.data.is_some() {
            return Err(ApiError::bad_request(format!(
                "input `{}` has both `data` and binary_data_size; send one",
                input.name
            )));
        }
        let values = decode(&input.datatype, &tail[at..end])
            .map_err(|m| ApiError::bad_request(format!("input `{}`: {m}", input.name)))?;
        input.data = Some(Value::Array(values));
        at = end;
    }
    if at != tail.len() {
        return Err(ApiError::bad_request(format!(
            "{} bytes after the JSON header belong to no input (announce them with binary_data_size)",
            tail.len() - at
        )));
    }
    Ok(())
}

/// Size in bytes of one element of a fixed-size datatype.
fn element_size(datatype: &str) -> Option<usize> {
    Some(match datatype {
        "BOOL" | "INT8" | "UINT8" => 1,
        "INT16" | "UINT16" | "FP16" => 2,
        "INT32" | "UINT32" | "FP32" => 4,
        "INT64" | "UINT64" | "FP64" => 8,
        _ => return None,
    })
}

/// The elements of a binary tensor.
pub fn decode(datatype: &str, bytes: &[u8]) -> Result<Vec<Value>, String> {
    if datatype == "BYTES" {
        return decode_bytes(bytes);
    }
    let size = element_size(datatype).ok_or_else(|| format!("unknown datatype {datatype}"))?;
    if !bytes.len().is_multiple_of(size) {
        return Err(format!(
            "{} bytes is not a whole number of {datatype} elements",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(size)
        .map(|b| match datatype {
            "BOOL" => json!(b[0] != 0),
            "INT8" => json!(i8::from_le_bytes([b[0]])),
            "UINT8" => json!(b[0]),
            "INT16" => json!(i16::from_le_bytes([b[0], b[1]])),
            "UINT16" => json!(u16::from_le_bytes([b[0], b[1]])),
            "FP16" => json!(f16_to_f32(u16::from_le_bytes([b[0], b[1]]))),
            "INT32" => json!(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            "UINT32" => json!(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            "FP32" => json!(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            "INT64" => json!(i64::from_le_bytes(eight(b))),
            "UINT64" => json!(u64::from_le_bytes(eight(b))),
            _ => json!(f64::from_le_bytes(eight(b))),
        })
        .collect())
}

fn eight(b: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&b[..8]);
    out
}

/// BYTES elements: each a 4-byte little-endian length, then that many
/// bytes (UTF-8 text for the columns that take BYTES).
fn decode_bytes(mut bytes: &[u8]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes
            .split_first_chunk::<4>()
            .ok_or("a BYTES element's 4-byte length is cut short")?;
        let len = u32::from_le_bytes(*len) as usize;
        if len > rest.len() {
            return Err(format!(
                "a BYTES element of {len} bytes, but only {} remain",
                rest.len()
            ));
        }
        let (text, rest) = rest.split_at(len);
        let text = std::str::from_utf8(text).map_err(|_| "a BYTES element is not UTF-8")?;
        out.push(Value::String(text.to_string()));
        bytes = rest;
    }
    Ok(out)
}

/// A half-precision float's value.
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((h >> 10) & 0x1f);
    let fraction = f32::from(h & 0x3ff);
    match exponent {
        0 => sign * fraction * 2f32.powi(-24),
        31 if fraction == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        e => sign * (1.0 + fraction / 1024.0) * 2f32.powi(e - 15),
    }
}

/// An output's elements as binary data of `datatype` (FP32, BOOL or BYTES:
/// the types the model answers in).
pub fn encode(datatype: &str, values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        match datatype {
            "BYTES" => {
                let text = v.as_str().unwrap_or_default().as_bytes();
                out.extend((text.len() as u32).to_le_bytes());
                out.extend(text);
            }
            "BOOL" => out.push(u8::from(v.as_bool().unwrap_or(false))),
            _ => out.extend((v.as_f64().unwrap_or(f64::NAN) as f32).to_le_bytes()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary_input(name: &str, datatype: &str, size: usize) -> InferInput {
        let mut parameters = serde_json::Map::new();
        parameters.insert("binary_data_size".into(), json!(size));
        InferInput {
            name: name.into(),
            shape: vec![2],
            datatype: datatype.into(),
            parameters: Some(parameters),
            data: None,
        }
    }

    #[test]
    fn binary_inputs_are_read_in_order_and_every_byte_is_accounted_for() {
        let mut tail = Vec::new();
        tail.extend(1.5f32.to_le_bytes());
        tail.extend((-2.0f32).to_le_bytes());
        tail.extend(encode("BYTES", &[json!("a"), json!("bé")]));
        let mut inputs = vec![
            binary_input("amount", "FP32", 8),
            binary_input("kind", "BYTES", tail.len() - 8),
        ];
        attach_inputs(&mut inputs, &tail).unwrap();
        assert_eq!(inputs[0].data, Some(json!([1.5, -2.0])));
        assert_eq!(inputs[1].data, Some(json!(["a", "bé"])));

        let mut short = vec![binary_input("amount", "FP32", 800)];
        let e = attach_inputs(&mut short, &tail).unwrap_err();
        assert!(e.body.error.contains("only"), "{e:?}");
        let mut spare = vec![binary_input("amount", "FP32", 8)];
        let e = attach_inputs(&mut spare, &tail).unwrap_err();
        assert!(e.body.error.contains("belong to no input"), "{e:?}");
        let mut cut = vec![binary_input("amount", "FP32", 7)];
        assert!(attach_inputs(&mut cut, &tail[..7]).is_err());
    }

    #[test]
    fn half_floats_and_outputs_round_trip() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3800), 0.5);
        let bytes = encode("FP32", &[json!(0.25), json!(4.0)]);
        assert_eq!(
            decode("FP32", &bytes).unwrap(),
            vec![json!(0.25), json!(4.0)]
        );
        let bytes = encode("BOOL", &[json!(true), json!(false)]);
        assert_eq!(bytes, vec![1, 0]);
    }
}
