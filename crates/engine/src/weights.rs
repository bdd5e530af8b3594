//! Trained weights as plain arrays, independent of any backend, saved as
//! safetensors so other tools (PyTorch, numpy) can read them too.

use crate::EngineError;
use indus_spec::{Activation, Norm};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// One dense layer: `y = x · weight + bias`, `weight` stored row-major as
/// `[inputs, outputs]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseWeights {
    /// Inputs per row.
    pub inputs: usize,
    /// Outputs per row.
    pub outputs: usize,
    /// `inputs × outputs` values.
    pub weight: Vec<f32>,
    /// `outputs` values.
    pub bias: Vec<f32>,
}

/// Scale and shift of one layer normalisation.
#[derive(Debug, Clone, PartialEq)]
pub struct NormWeights {
    /// Per-feature scale.
    pub gamma: Vec<f32>,
    /// Per-feature shift.
    pub beta: Vec<f32>,
}

/// A learned lookup table for one embedded input (users, items): the row
/// index arrives as one model input at `position`, and the row's vector
/// joins the other inputs before the first hidden layer.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingWeights {
    /// Position of the index among a row's model inputs.
    pub position: usize,
    /// Rows of the table.
    pub rows: usize,
    /// Length of each vector.
    pub dim: usize,
    /// `rows × dim` values, row-major.
    pub table: Vec<f32>,
}

/// Everything needed to rebuild a trained MLP on any backend.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpWeights {
    /// Hidden layers, input side first.
    pub hidden: Vec<DenseWeights>,
    /// One per hidden layer when layer normalisation is on, else empty.
    pub norms: Vec<NormWeights>,
    /// The output layer feeding the head(s).
    pub output: DenseWeights,
    /// Hidden activation.
    pub activation: Activation,
    /// Embedded inputs, by ascending position (empty for plain MLPs).
    pub embeddings: Vec<EmbeddingWeights>,
}

/// Architecture facts stored in the safetensors header.
#[derive(Serialize, Deserialize)]
struct Header {
    activation: Activation,
    norm: Norm,
    hidden_layers: usize,
    /// Input position of each embedding table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    embedding_positions: Vec<usize>,
}

impl MlpWeights {
    /// The same network with only output columns `offset..offset + width`:
    /// one head of a model whose heads share the trunk, as a network of
    /// its own for serving and explanations.
    pub fn output_columns(&self, offset: usize, width: usize) -> Result<MlpWeights, EngineError> {
        let out = &self.output;
        if offset + width > out.outputs || width == 0 {
            return Err(EngineError::Shape(format!(
                "output columns {offset}..{} do not fit a layer of {} outputs",
                offset + width,
                out.outputs
            )));
        }
        let weight = out
            .weight
            .chunks_exact(out.outputs)
            .flat_map(|row| row[offset..offset + width].iter().copied())
            .collect();
        Ok(MlpWeights {
            output: DenseWeights {
                inputs: out.inputs,
                outputs: width,
                weight,
                bias: out.bias[offset..offset + width].to_vec(),
            },
            ..self.clone()
        })
    }

    /// Model inputs the network expects per row: plain values plus one
    /// index per embedded input.
    pub fn inputs(&self) -> usize {
        let first = self.hidden.first().unwrap_or(&self.output).inputs;
        let vectors: usize = self.embeddings.iter().map(|e| e.dim).sum();
        first + self.embeddings.len() - vectors
    }

    /// Outputs per row.
    pub fn outputs(&self) -> usize {
        self.output.outputs
    }

    /// Number of trainable values.
    pub fn parameter_count(&self) -> usize {
        let dense = |d: &DenseWeights| d.weight.len() + d.bias.len();
        self.hidden.iter().map(dense).sum::<usize>()
            + dense(&self.output)
            + self
                .norms
                .iter()
                .map(|n| n.gamma.len() + n.beta.len())
                .sum::<usize>()
            + self.embeddings.iter().map(|e| e.table.len()).sum::<usize>()
    }

    /// Serialises to safetensors bytes (names: `hidden.{i}.weight`, `output.bias`, ...).
    pub fn to_safetensors(&self) -> Result<Vec<u8>, EngineError> {
        let mut owned: Vec<(String, Vec<u8>, Vec<usize>)> = Vec::new();
        let mut push = |name: String, values: &[f32], shape: Vec<usize>| {
            owned.push((
                name,
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                shape,
            ));
        };
        for (i, d) in self.hidden.iter().enumerate() {
            push(
                format!("hidden.{i}.weight"),
                &d.weight,
                vec![d.inputs, d.outputs],
            );
            push(format!("hidden.{i}.bias"), &d.bias, vec![d.outputs]);
        }
        for (i, n) in self.norms.iter().enumerate() {
            push(format!("norm.{i}.gamma"), &n.gamma, vec![n.gamma.len()]);
            push(format!("norm.{i}.beta"), &n.beta, vec![n.beta.len()]);
        }
        push(
            "output.weight".into(),
            &self.output.weight,
            vec![self.output.inputs, self.output.outputs],
        );
        push(
            "output.bias".into(),
            &self.output.bias,
            vec![self.output.outputs],
        );
        for (i, e) in self.embeddings.iter().enumerate() {
            push(
                format!("embedding.{i}.weight"),
                &e.table,
                vec![e.rows, e.dim],
            );
        }
        let views: Vec<(String, TensorView<'_>)> = owned
            .iter()
            .map(|(name, bytes, shape)| {
                TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (name.clone(), v))
            })
            .collect::<Result<_, _>>()
            .map_err(|e| EngineError::Weights {
                file: "<memory>".into(),
                message: e.to_string(),
            })?;
        let header = Header {
            activation: self.activation,
            norm: if self.norms.is_empty() {
                Norm::None
            } else {
                Norm::Layer
            },
            hidden_layers: self.hidden.len(),
            embedding_positions: self.embeddings.iter().map(|e| e.position).collect(),
        };
        let mut meta = HashMap::new();
        meta.insert(
            "indus".to_string(),
            serde_json::to_string(&header).unwrap_or_default(),
        );
        safetensors::serialize(views, Some(meta)).map_err(|e| EngineError::Weights {
            file: "<memory>".into(),
            message: e.to_string(),
        })
    }

    /// Reads weights written by [`MlpWeights::to_safetensors`]; `file` names
    /// the source in errors.
    pub fn from_safetensors(file: &Path, bytes: &[u8]) -> Result<MlpWeights, EngineError> {
        let bad = |message: String| EngineError::Weights {
            file: file.display().to_string(),
            message,
        };
        let (_, metadata) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a safetensors file ({e})")))?;
        let header: Header = metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get("indus"))
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| bad("missing the `indus` architecture header".into()))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let get = |name: &str| -> Result<(Vec<f32>, Vec<usize>), EngineError> {
            let view = st
                .tensor(name)
                .map_err(|_| bad(format!("tensor `{name}` is missing")))?;
            if view.dtype() != Dtype::F32 {
                return Err(bad(format!(
                    "tensor `{name}` is {:?}, expected F32",
                    view.dtype()
                )));
            }
            let values = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Ok((values, view.shape().to_vec()))
        };
        let dense = |prefix: &str| -> Result<DenseWeights, EngineError> {
            let (weight, shape) = get(&format!("{prefix}.weight"))?;
            let (bias, bshape) = get(&format!("{prefix}.bias"))?;
            match (shape.as_slice(), bshape.as_slice()) {
                ([i, o], [b]) if b == o => Ok(DenseWeights {
                    inputs: *i,
                    outputs: *o,
                    weight,
                    bias,
                }),
                _ => Err(bad(format!(
                    "`{prefix}` has inconsistent shapes {shape:?} / {bshape:?}"
                ))),
            }
        };
        let hidden = (0..header.hidden_layers)
            .map(|i| dense(&format!("hidden.{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        let output = dense("output")?;
        let norms = if header.norm == Norm::Layer {
            (0..header.hidden_layers)
                .map(|i| {
                    Ok(NormWeights {
                        gamma: get(&format!("norm.{i}.gamma"))?.0,
                        beta: get(&format!("norm.{i}.beta"))?.0,
                    })
                })
                .collect::<Result<Vec<_>, EngineError>>()?
        } else {
            Vec::new()
        };
        let embeddings = header
            .embedding_positions
            .iter()
            .enumerate()
            .map(|(i, &position)| {
                let name = format!("embedding.{i}.weight");
                match get(&name)? {
                    (table, shape) if shape.len() == 2 => Ok(EmbeddingWeights {
                        position,
                        rows: shape[0],
                        dim: shape[1],
                        table,
                    }),
                    (_, shape) => Err(bad(format!("`{name}` has shape {shape:?}, expected 2-D"))),
                }
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let mut previous = hidden.first().map_or(output.inputs, |h| h.inputs);
        for layer in hidden.iter().chain(std::iter::once(&output)) {
            if layer.inputs != previous {
                return Err(bad(format!(
                    "layer expects {} inputs but the previous layer gives {previous}",
                    layer.inputs
                )));
            }
            previous = layer.outputs;
        }
        Ok(MlpWeights {
            hidden,
            norms,
            output,
            activation: header.activation,
            embeddings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_round_trip_and_damage_detection() {
        let w = MlpWeights {
            hidden: vec![DenseWeights {
                inputs: 2,
                outputs: 3,
                weight: vec![1.0; 6],
                bias: vec![0.5; 3],
            }],
            norms: vec![NormWeights {
                gamma: vec![1.0; 3],
                beta: vec![0.0; 3],
            }],
            output: DenseWeights {
                inputs: 3,
                outputs: 1,
                weight: vec![2.0; 3],
                bias: vec![0.1],
            },
            activation: Activation::Tanh,
            embeddings: vec![EmbeddingWeights {
                position: 1,
                rows: 3,
                dim: 1,
                table: vec![0.1, 0.2, 0.3],
            }],
        };
        assert_eq!(
            w.inputs(),
            2,
            "2 first-layer inputs = 1 plain value + 1 vector of 1"
        );
        let bytes = w.to_safetensors().unwrap();
        assert_eq!(
            MlpWeights::from_safetensors(Path::new("w"), &bytes).unwrap(),
            w
        );
        let err = MlpWeights::from_safetensors(Path::new("w.st"), &bytes[..bytes.len() / 2])
            .unwrap_err()
            .to_string();
        assert!(err.contains("w.st"), "{err}");
    }
}
