//! The shared MLP trunk as a burn module, its seeded initialisation, and the
//! conversion to and from backend-free [`MlpWeights`].

use crate::weights::{
    ConvWeights, DenseWeights, EmbeddingWeights, ImageShape, MlpWeights, NormWeights, stem_features,
};
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation;
use burn::tensor::backend::Backend;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Int, Tensor, TensorData};
use indus_spec::{Activation, Init, ModelSpec, Norm};
use rand::rngs::StdRng;
use rand::{Rng, RngCore};

/// Size and place of one embedded input, for initialising its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingShape {
    /// Position of the index among a row's model inputs.
    pub position: usize,
    /// Rows of the table.
    pub rows: usize,
    /// Length of each vector.
    pub dim: usize,
}

/// Embedding tables, an optional convolution stem over an image, hidden
/// layers, optional layer norms, dropout and the output layer.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    embeddings: Vec<Param<Tensor<B, 2>>>,
    #[module(skip)]
    embedding_positions: Vec<usize>,
    /// Inputs that go to the first dense layer as they are; empty when
    /// every input does (no embeddings, no convolutions).
    #[module(skip)]
    plain_positions: Vec<usize>,
    conv_weights: Vec<Param<Tensor<B, 4>>>,
    conv_biases: Vec<Param<Tensor<B, 1>>>,
    #[module(skip)]
    image: Option<ImageShape>,
    hidden: Vec<Linear<B>>,
    norms: Vec<LayerNorm<B>>,
    output: Linear<B>,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    dropout_rate: f64,
}

impl<B: Backend> Mlp<B> {
    /// A freshly initialised network. Weights come from `rng` (not from the
    /// backend's global generator) so the same seed gives the same network on
    /// every backend.
    /// `inputs` counts model inputs as they arrive (one index per
    /// embedded input); each table starts uniform in ±0.05 like Keras'.
    /// `image` is where `spec.conv` reads its pixels (ignored without
    /// convolutions; the caller checks that one is given with them).
    pub fn init(
        spec: &ModelSpec,
        inputs: usize,
        embeddings: &[EmbeddingShape],
        image: Option<ImageShape>,
        outputs: usize,
        rng: &mut StdRng,
        device: &B::Device,
    ) -> Self {
        let tables: Vec<EmbeddingWeights> = embeddings
            .iter()
            .map(|e| EmbeddingWeights {
                position: e.position,
                rows: e.rows,
                dim: e.dim,
                table: (0..e.rows * e.dim)
                    .map(|_| rng.random_range(-0.05f32..=0.05))
                    .collect(),
            })
            .collect();
        let limit = |fan_in: usize, fan_out: usize| {
            (match spec.init {
                Init::GlorotUniform => (6.0 / (fan_in + fan_out) as f64).sqrt(),
                Init::HeUniform => (6.0 / fan_in as f64).sqrt(),
            }) as f32
        };
        let image = image.filter(|_| !spec.conv.is_empty());
        let mut convs = Vec::with_capacity(spec.conv.len());
        if image.is_some() {
            let mut channels = 1;
            for layer in &spec.conv {
                let (filters, kernel) = (layer.filters.get(), layer.kernel.get());
                let area = kernel * kernel;
                let bound = limit(channels * area, filters * area);
                convs.push(ConvWeights {
                    channels,
                    filters,
                    kernel,
                    weight: (0..filters * channels * area)
                        .map(|_| rng.random_range(-bound..=bound))
                        .collect(),
                    bias: vec![0.0; filters],
                });
                channels = filters;
            }
        }
        let conv_features = stem_features(image, &convs);
        let pixels = image.map_or(0, |i| i.pixels());
        let first = inputs - embeddings.len() - pixels
            + embeddings.iter().map(|e| e.dim).sum::<usize>()
            + conv_features;
        let mut widths = vec![first];
        widths.extend(spec.hidden.iter().map(|c| c.get()));
        let dense = |i: usize, o: usize, rng: &mut StdRng| {
            let limit = limit(i, o);
            DenseWeights {
                inputs: i,
                outputs: o,
                weight: (0..i * o)
                    .map(|_| rng.random_range(-limit..=limit))
                    .collect(),
                bias: vec![0.0; o],
            }
        };
        let hidden: Vec<DenseWeights> = widths.windows(2).map(|w| dense(w[0], w[1], rng)).collect();
        let output = dense(*widths.last().unwrap_or(&inputs), outputs, rng);
        let norms = match spec.norm {
            Norm::None => Vec::new(),
            Norm::Layer => hidden
                .iter()
                .map(|h| NormWeights {
                    gamma: vec![1.0; h.outputs],
                    beta: vec![0.0; h.outputs],
                })
                .collect(),
        };
        let weights = MlpWeights {
            hidden,
            norms,
            output,
            activation: spec.activation,
            embeddings: tables,
            convs,
            image,
        };
        Self::from_weights(&weights, spec.dropout.get(), device)
    }

    /// Rebuilds a network from saved weights (dropout only matters in training).
    pub fn from_weights(w: &MlpWeights, dropout: f64, device: &B::Device) -> Self {
        let linear = |d: &DenseWeights| {
            let mut layer = LinearConfig::new(d.inputs, d.outputs).init::<B>(device);
            layer.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(d.weight.clone(), [d.inputs, d.outputs]),
                device,
            ));
            layer.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(d.bias.clone(), [d.outputs]),
                device,
            )));
            layer
        };
        let norms = w
            .norms
            .iter()
            .map(|n| {
                let mut norm = LayerNormConfig::new(n.gamma.len()).init::<B>(device);
                norm.gamma = Param::from_tensor(Tensor::from_data(
                    TensorData::new(n.gamma.clone(), [n.gamma.len()]),
                    device,
                ));
                norm.beta = Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(n.beta.clone(), [n.beta.len()]),
                    device,
                )));
                norm
            })
            .collect();
        let embedding_positions: Vec<usize> = w.embeddings.iter().map(|e| e.position).collect();
        let image = w.image.filter(|_| !w.convs.is_empty());
        let in_image = |p: &usize| image.is_some_and(|i| i.span().contains(p));
        let plain_positions = (0..w.inputs())
            .filter(|p| !embedding_positions.contains(p) && !in_image(p))
            .collect();
        Mlp {
            conv_weights: w
                .convs
                .iter()
                .map(|c| {
                    Param::from_tensor(Tensor::from_data(
                        TensorData::new(
                            c.weight.clone(),
                            [c.filters, c.channels, c.kernel, c.kernel],
                        ),
                        device,
                    ))
                })
                .collect(),
            conv_biases: w
                .convs
                .iter()
                .map(|c| {
                    Param::from_tensor(Tensor::from_data(
                        TensorData::new(c.bias.clone(), [c.filters]),
                        device,
                    ))
                })
                .collect(),
            image,
            embeddings: w
                .embeddings
                .iter()
                .map(|e| {
                    Param::from_tensor(Tensor::from_data(
                        TensorData::new(e.table.clone(), [e.rows, e.dim]),
                        device,
                    ))
                })
                .collect(),
            embedding_positions,
            plain_positions,
            hidden: w.hidden.iter().map(linear).collect(),
            norms,
            output: linear(&w.output),
            dropout: DropoutConfig::new(dropout).init(),
            activation: w.activation,
            dropout_rate: dropout,
        }
    }

    /// Raw outputs (logits) for a batch `[rows, inputs]`. With `dropout_rng`
    /// (training), each dropout mask is drawn from a seed taken from it.
    pub fn forward(
        &self,
        mut x: Tensor<B, 2>,
        mut dropout_rng: Option<&mut StdRng>,
    ) -> Tensor<B, 2> {
        if !self.embeddings.is_empty() || self.image.is_some() {
            x = self.assemble(x, dropout_rng.as_deref_mut());
        }
        for (i, layer) in self.hidden.iter().enumerate() {
            x = layer.forward(x);
            if let Some(norm) = self.norms.get(i) {
                x = norm.forward(x);
            }
            x = self.activate(x);
            x = self.drop(x, dropout_rng.as_deref_mut());
        }
        self.output.forward(x)
    }

    fn activate<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self.activation {
            Activation::Relu => activation::relu(x),
            Activation::Gelu => activation::gelu(x),
            Activation::Tanh => activation::tanh(x),
            Activation::Sigmoid => activation::sigmoid(x),
        }
    }

    /// Dropout in training (a mask seeded from `dropout_rng`), identity otherwise.
    fn drop<const D: usize>(
        &self,
        x: Tensor<B, D>,
        dropout_rng: Option<&mut StdRng>,
    ) -> Tensor<B, D> {
        match dropout_rng {
            Some(rng) if self.dropout_rate > 0.0 => {
                B::seed(&x.device(), rng.next_u64());
                self.dropout.forward(x)
            }
            _ => x,
        }
    }

    /// The convolution stem: the image's pixels as a grid, through each
    /// convolution, activation and 2×2 max pool, flattened (with dropout in
    /// training).
    fn see(
        &self,
        x: &Tensor<B, 2>,
        image: ImageShape,
        dropout_rng: Option<&mut StdRng>,
    ) -> Tensor<B, 2> {
        let [rows, _] = x.dims();
        let mut maps = x
            .clone()
            .narrow(1, image.position, image.pixels())
            .reshape([rows, 1, image.height, image.width]);
        for (weight, bias) in self.conv_weights.iter().zip(&self.conv_biases) {
            let weight = weight.val();
            let pad = weight.dims()[2] / 2;
            maps = conv2d(
                maps,
                weight,
                Some(bias.val()),
                ConvOptions::new([1, 1], [pad, pad], [1, 1], 1),
            );
            maps = max_pool2d(self.activate(maps), [2, 2], [2, 2], [0, 0], [1, 1], false);
        }
        let [_, filters, height, width] = maps.dims();
        self.drop(maps.reshape([rows, filters * height * width]), dropout_rng)
    }

    /// The first dense layer's inputs: the plain inputs, then each embedded
    /// input's table row, then the convolution stem's features (embedding
    /// rows and stem features get dropout in training).
    fn assemble(&self, x: Tensor<B, 2>, mut dropout_rng: Option<&mut StdRng>) -> Tensor<B, 2> {
        let device = x.device();
        let [rows, _] = x.dims();
        let mut parts = Vec::with_capacity(self.embeddings.len() + 2);
        if !self.plain_positions.is_empty() {
            let plain: Vec<i64> = self.plain_positions.iter().map(|&p| p as i64).collect();
            let n = plain.len();
            parts.push(x.clone().select(
                1,
                Tensor::<B, 1, Int>::from_data(TensorData::new(plain, [n]), &device),
            ));
        }
        for (table, &position) in self.embeddings.iter().zip(&self.embedding_positions) {
            let table = table.val();
            let last = table.dims()[0] as i64 - 1;
            let ids = x
                .clone()
                .narrow(1, position, 1)
                .reshape([rows])
                .int()
                .clamp(0, last);
            let vectors = table.select(0, ids);
            parts.push(self.drop(vectors, dropout_rng.as_deref_mut()));
        }
        if let Some(image) = self.image {
            parts.push(self.see(&x, image, dropout_rng));
        }
        Tensor::cat(parts, 1)
    }

    /// Copies the parameters out to host memory.
    pub fn to_weights(&self) -> MlpWeights {
        let dense = |l: &Linear<B>| {
            let [inputs, outputs] = l.weight.val().dims();
            DenseWeights {
                inputs,
                outputs,
                weight: host_values(l.weight.val()),
                bias: l
                    .bias
                    .as_ref()
                    .map(|b| host_values(b.val()))
                    .unwrap_or_else(|| vec![0.0; outputs]),
            }
        };
        MlpWeights {
            hidden: self.hidden.iter().map(dense).collect(),
            norms: self
                .norms
                .iter()
                .map(|n| NormWeights {
                    gamma: host_values(n.gamma.val()),
                    beta: n
                        .beta
                        .as_ref()
                        .map(|b| host_values(b.val()))
                        .unwrap_or_else(|| vec![0.0; n.gamma.val().dims()[0]]),
                })
                .collect(),
            output: dense(&self.output),
            activation: self.activation,
            embeddings: self
                .embeddings
                .iter()
                .zip(&self.embedding_positions)
                .map(|(t, &position)| {
                    let [rows, dim] = t.val().dims();
                    EmbeddingWeights {
                        position,
                        rows,
                        dim,
                        table: host_values(t.val()),
                    }
                })
                .collect(),
            convs: self
                .conv_weights
                .iter()
                .zip(&self.conv_biases)
                .map(|(w, b)| {
                    let [filters, channels, kernel, _] = w.val().dims();
                    ConvWeights {
                        channels,
                        filters,
                        kernel,
                        weight: host_values(w.val()),
                        bias: host_values(b.val()),
                    }
                })
                .collect(),
            image: self.image,
        }
    }
}

/// A tensor's values copied to host memory as `f32`.
fn host_values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .unwrap_or_default()
}
