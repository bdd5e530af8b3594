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

/// One convolution layer of an image stem: `filters` maps from `channels`
/// input maps with a square `kernel`, zero-padded to keep the size; a
/// 2×2 max pool follows the activation.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvWeights {
    /// Input feature maps (1 for the grey image itself).
    pub channels: usize,
    /// Output feature maps.
    pub filters: usize,
    /// Side of the square kernel (odd).
    pub kernel: usize,
    /// `filters × channels × kernel × kernel` values, row-major.
    pub weight: Vec<f32>,
    /// `filters` values.
    pub bias: Vec<f32>,
}

/// Where a grey image sits among a row's model inputs and its size, so a
/// convolution stem can see the pixels as a grid again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    /// Position of the first pixel among the row's model inputs.
    pub position: usize,
    /// Rows of pixels.
    pub height: usize,
    /// Pixels per row.
    pub width: usize,
}

impl ImageShape {
    /// Model inputs the image occupies.
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// Positions of its pixels among a row's model inputs.
    pub fn span(&self) -> std::ops::Range<usize> {
        self.position..self.position + self.pixels()
    }

    /// Height and width after `layers` 2×2 max pools (odd sides round down).
    pub fn pooled(&self, layers: usize) -> (usize, usize) {
        (self.height >> layers, self.width >> layers)
    }
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
    /// Convolution layers over `image`, input side first (empty for plain MLPs).
    pub convs: Vec<ConvWeights>,
    /// The image the convolutions read; set exactly when `convs` is not empty.
    pub image: Option<ImageShape>,
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
    /// Convolution layers of the image stem.
    #[serde(default, skip_serializing_if = "is_zero")]
    conv_layers: usize,
    /// The image they read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<ImageShape>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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

    /// Folds a target standardisation into one output column: a network
    /// trained on `(y - mean) / std` then answers `y` itself, so the saved
    /// model, `predict` and serving need to know nothing of it.
    pub fn unstandardize_output(&mut self, column: usize, mean: f32, std: f32) {
        let out = &mut self.output;
        if column >= out.outputs {
            return;
        }
        for row in out.weight.chunks_exact_mut(out.outputs) {
            row[column] *= std;
        }
        out.bias[column] = out.bias[column] * std + mean;
    }

    /// Model inputs the network expects per row: plain values, one index
    /// per embedded input, and the image's pixels when convolutions read it.
    pub fn inputs(&self) -> usize {
        let first = first_layer_inputs(self);
        let vectors: usize = self.embeddings.iter().map(|e| e.dim).sum();
        let pixels = self.image.map_or(0, |i| i.pixels());
        (first + self.embeddings.len() + pixels).saturating_sub(vectors + self.conv_features())
    }

    /// Values the convolution stem hands to the first dense layer: the last
    /// layer's feature maps after their pools (0 without convolutions).
    pub fn conv_features(&self) -> usize {
        stem_features(self.image, &self.convs)
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
            + self
                .convs
                .iter()
                .map(|c| c.weight.len() + c.bias.len())
                .sum::<usize>()
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
        for (i, c) in self.convs.iter().enumerate() {
            push(
                format!("conv.{i}.weight"),
                &c.weight,
                vec![c.filters, c.channels, c.kernel, c.kernel],
            );
            push(format!("conv.{i}.bias"), &c.bias, vec![c.filters]);
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
            conv_layers: self.convs.len(),
            image: self.image,
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
        let convs = (0..header.conv_layers)
            .map(|i| {
                let name = format!("conv.{i}.weight");
                let (weight, shape) = get(&name)?;
                let (bias, bshape) = get(&format!("conv.{i}.bias"))?;
                match (shape.as_slice(), bshape.as_slice()) {
                    ([f, c, k, k2], [b]) if k == k2 && b == f => Ok(ConvWeights {
                        channels: *c,
                        filters: *f,
                        kernel: *k,
                        weight,
                        bias,
                    }),
                    _ => Err(bad(format!(
                        "`conv.{i}` has inconsistent shapes {shape:?} / {bshape:?}"
                    ))),
                }
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        let mut channels = 1;
        for (i, c) in convs.iter().enumerate() {
            if c.channels != channels {
                return Err(bad(format!(
                    "`conv.{i}` reads {} maps but the layer before gives {channels}",
                    c.channels
                )));
            }
            channels = c.filters;
        }
        if convs.is_empty() != header.image.is_none() {
            return Err(bad(
                "convolution layers and the image they read must come together".into(),
            ));
        }
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
        let weights = MlpWeights {
            hidden,
            norms,
            output,
            activation: header.activation,
            embeddings,
            convs,
            image: header.image,
        };
        let vectors: usize = weights.embeddings.iter().map(|e| e.dim).sum();
        if first_layer_inputs(&weights) < vectors + weights.conv_features() {
            return Err(bad(format!(
                "the first layer takes {} inputs, fewer than the {} the embeddings and convolutions give",
                first_layer_inputs(&weights),
                vectors + weights.conv_features()
            )));
        }
        Ok(weights)
    }
}

/// Values a convolution stem of `convs` over `image` hands on: the last
/// layer's maps after every pool (0 without one).
pub(crate) fn stem_features(image: Option<ImageShape>, convs: &[ConvWeights]) -> usize {
    match (image, convs.last()) {
        (Some(image), Some(last)) => {
            let (h, w) = image.pooled(convs.len());
            last.filters * h * w
        }
        _ => 0,
    }
}

/// Inputs of the first dense layer.
fn first_layer_inputs(w: &MlpWeights) -> usize {
    w.hidden.first().unwrap_or(&w.output).inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folded_target_scale_turns_z_scores_into_the_target_unit() {
        // One hidden value h feeding two outputs: column 0 is a standardised
        // price (mean 300,000, std 120,000), column 1 an auxiliary head.
        let mut w = MlpWeights {
            hidden: Vec::new(),
            norms: Vec::new(),
            output: DenseWeights {
                inputs: 2,
                outputs: 2,
                weight: vec![0.5, 1.0, -0.25, 2.0],
                bias: vec![0.1, 0.3],
            },
            activation: Activation::Relu,
            embeddings: Vec::new(),
            convs: Vec::new(),
            image: None,
        };
        let out = |w: &MlpWeights, h: [f32; 2]| -> [f32; 2] {
            let o = &w.output;
            [0, 1].map(|c| o.bias[c] + h[0] * o.weight[c] + h[1] * o.weight[o.outputs + c])
        };
        let h = [1.5, -2.0];
        let before = out(&w, h);
        w.unstandardize_output(0, 300_000.0, 120_000.0);
        let after = out(&w, h);
        assert!(
            (after[0] - (300_000.0 + 120_000.0 * before[0])).abs() < 0.1,
            "{after:?}"
        );
        assert_eq!(after[1], before[1], "other heads' columns are untouched");
        // A column that does not exist changes nothing.
        let same = w.clone();
        w.unstandardize_output(2, 1.0, 2.0);
        assert_eq!(w, same);
    }

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
            convs: Vec::new(),
            image: None,
        };
        assert_eq!(
            w.inputs(),
            2,
            "2 first-layer inputs = 1 plain value + 1 vector of 1"
        );
        round_trip(&w);
    }

    #[test]
    fn convolution_layers_round_trip_and_count_their_inputs() {
        let conv = |channels: usize, filters: usize| ConvWeights {
            channels,
            filters,
            kernel: 3,
            weight: (0..filters * channels * 9).map(|v| v as f32).collect(),
            bias: vec![0.25; filters],
        };
        let w = MlpWeights {
            hidden: vec![DenseWeights {
                inputs: 1 + 4 * 3,
                outputs: 2,
                weight: vec![1.0; 26],
                bias: vec![0.0; 2],
            }],
            norms: Vec::new(),
            output: DenseWeights {
                inputs: 2,
                outputs: 1,
                weight: vec![1.0; 2],
                bias: vec![0.0],
            },
            activation: Activation::Relu,
            embeddings: Vec::new(),
            convs: vec![conv(1, 2), conv(2, 4)],
            image: Some(ImageShape {
                position: 0,
                height: 4,
                width: 7,
            }),
        };
        // 4×7 pooled twice is 1×1 (odd sides round down): 4 maps of one value.
        assert_eq!(w.conv_features(), 4);
        assert_eq!(w.inputs(), 28 + 9, "28 pixels + 9 plain inputs");
        assert_eq!(w.parameter_count(), 26 + 2 + 2 + 1 + (18 + 2) + (72 + 4));
        round_trip(&w);
    }

    /// Saved and read back, `w` is unchanged; a truncated file is refused
    /// naming the file.
    fn round_trip(w: &MlpWeights) {
        let bytes = w.to_safetensors().unwrap();
        assert_eq!(
            &MlpWeights::from_safetensors(Path::new("w"), &bytes).unwrap(),
            w
        );
        let err = MlpWeights::from_safetensors(Path::new("w.st"), &bytes[..bytes.len() / 2])
            .unwrap_err()
            .to_string();
        assert!(err.contains("w.st"), "{err}");
    }
}
