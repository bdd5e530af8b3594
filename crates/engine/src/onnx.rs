//! A trained network as an ONNX model (opset 17), so the same run can be
//! served by ONNX Runtime or Triton. The graph takes the model inputs (the
//! preprocessed features, one row per input row) and gives the head's
//! outputs exactly as [`crate::Predictor::predict`] does: every ensemble
//! member's hidden layers (linear, layer normalisation, activation), its
//! output layer and the head's activation, averaged over members. The ONNX
//! messages are declared here with prost (no protoc, no generated code).

use crate::{EngineError, Head, MlpWeights};
use indus_spec::Activation;
use prost::Message;

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(string, tag = "2")]
    producer_name: String,
    #[prost(string, tag = "3")]
    producer_version: String,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<OperatorSetIdProto>,
}

#[derive(Clone, PartialEq, Message)]
struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    domain: String,
    #[prost(int64, tag = "2")]
    version: i64,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(float, tag = "2")]
    f: f32,
    #[prost(int64, tag = "3")]
    i: i64,
    /// FLOAT = 1, INT = 2.
    #[prost(int32, tag = "20")]
    r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    dims: Vec<i64>,
    /// FLOAT = 1.
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(float, repeated, tag = "4")]
    float_data: Vec<f32>,
    #[prost(int64, repeated, tag = "7")]
    int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    elem_type: i32,
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
struct Dimension {
    #[prost(int64, optional, tag = "1")]
    dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    dim_param: Option<String>,
}

const FLOAT: i32 = 1;
const INT64: i32 = 7;

/// One fitted preprocessing step of a raw input column, as the graph can
/// replay it: the same arithmetic as the run's `preprocess.json`.
#[derive(Debug, Clone, PartialEq)]
pub enum OnnxInputStep {
    /// A number: a missing value (NaN) filled, optionally `ln(1 + x)`, then
    /// `(x - shift) / scale`, then one clipped ramp per piecewise-linear bin.
    Number {
        /// Value used for a missing cell.
        fill: f32,
        /// Apply `ln(1 + x)` first.
        log1p: bool,
        /// Subtracted after filling.
        shift: f32,
        /// Divisor after shifting.
        scale: f32,
        /// Bin edges (empty: no bins).
        bins: Vec<f32>,
    },
    /// A category given as its index: one-hot over `classes` values (a
    /// missing or out-of-range index encodes as zeros).
    OneHot {
        /// Values of the category.
        classes: usize,
    },
    /// Pixels divided by `divisor`, then standardised per pixel when
    /// `mean` is not empty.
    Pixels {
        /// Pixels per image.
        width: usize,
        /// The declared maximum.
        divisor: f32,
        /// Per-pixel mean (after dividing), or empty.
        mean: Vec<f32>,
        /// Per-pixel standard deviation, or empty.
        std: Vec<f32>,
    },
}

impl OnnxInputStep {
    fn raw_width(&self) -> usize {
        match self {
            OnnxInputStep::Pixels { width, .. } => *width,
            _ => 1,
        }
    }
}

/// Name of the graph's input when the preprocessing is in it: the raw row
/// (numbers as read, NaN for missing, categories as their value index).
pub const ONNX_RAW_INPUT: &str = "raw";

/// Name of the graph's input: the preprocessed features, `[rows, width]`.
pub const ONNX_INPUT: &str = "inputs";
/// Name of the graph's output: the head's outputs, `[rows, outputs]`.
pub const ONNX_OUTPUT: &str = "outputs";

/// Builds the graph node by node, naming every value once.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl Graph {
    fn constant(&mut self, name: String, dims: Vec<i64>, values: Vec<f32>) -> String {
        self.initializers.push(TensorProto {
            dims,
            data_type: FLOAT,
            float_data: values,
            name: name.clone(),
            ..Default::default()
        });
        name
    }

    fn ints(&mut self, name: String, values: Vec<i64>) -> String {
        self.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: INT64,
            int64_data: values,
            name: name.clone(),
            ..Default::default()
        });
        name
    }

    fn node(
        &mut self,
        op: &str,
        inputs: Vec<String>,
        output: String,
        attributes: Vec<AttributeProto>,
    ) -> String {
        self.nodes.push(NodeProto {
            input: inputs,
            output: vec![output.clone()],
            name: format!("{op}_{}", self.nodes.len()),
            op_type: op.to_string(),
            attribute: attributes,
        });
        output
    }

    /// `x · W + b` of a dense layer.
    fn dense(&mut self, x: String, prefix: &str, w: &crate::weights::DenseWeights) -> String {
        let weight = self.constant(
            format!("{prefix}.weight"),
            vec![w.inputs as i64, w.outputs as i64],
            w.weight.clone(),
        );
        let bias = self.constant(
            format!("{prefix}.bias"),
            vec![w.outputs as i64],
            w.bias.clone(),
        );
        self.node(
            "Gemm",
            vec![x, weight, bias],
            format!("{prefix}.out"),
            Vec::new(),
        )
    }
}

fn int_attribute(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        i,
        r#type: 2,
        ..Default::default()
    }
}

fn float_attribute(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        f,
        r#type: 1,
        ..Default::default()
    }
}

/// The network of `members` (one per ensemble network) under `head` as an
/// ONNX model. Refused, with the reason, for what standard operators here
/// do not express: learned embeddings of ids and the convolution stem.
pub fn to_onnx(
    members: &[MlpWeights],
    head: Head,
    producer_version: &str,
) -> Result<Vec<u8>, EngineError> {
    to_onnx_with(members, head, producer_version, None)
}

/// [`to_onnx`] with the preprocessing in front of the network when `steps`
/// are given (one per raw column, in row order): the graph then takes the
/// raw row as `raw`.
pub fn to_onnx_with(
    members: &[MlpWeights],
    head: Head,
    producer_version: &str,
    steps: Option<&[OnnxInputStep]>,
) -> Result<Vec<u8>, EngineError> {
    let first = members
        .first()
        .ok_or_else(|| EngineError::Shape("no network to export".into()))?;
    if members.iter().any(|m| !m.embeddings.is_empty()) {
        return Err(EngineError::Shape(
            "not exported: the network learns embeddings of ids (an index input gathers a table row before the first layer); this export covers plain numeric inputs".into(),
        ));
    }
    if members.iter().any(|m| !m.convs.is_empty()) {
        return Err(EngineError::Shape(
            "not exported: the network has a convolution stem; this export covers the dense layers only".into(),
        ));
    }
    let width = first
        .hidden
        .first()
        .map_or(first.output.inputs, |l| l.inputs);
    let outputs = head.outputs();
    let mut g = Graph::default();
    let graph_input = match steps {
        Some(steps) => {
            let (raw_width, features) = preprocessing(&mut g, steps);
            if features != width {
                return Err(EngineError::Shape(format!(
                    "the preprocessing gives {features} inputs, the network takes {width}"
                )));
            }
            (ONNX_RAW_INPUT, raw_width)
        }
        None => (ONNX_INPUT, width),
    };
    let mut member_outputs = Vec::new();
    for (m, member) in members.iter().enumerate() {
        let member = if member.output.outputs != outputs {
            // A trunk shared with secondary heads: the primary head owns the
            // first columns.
            member.output_columns(0, outputs)?
        } else {
            member.clone()
        };
        let mut x = ONNX_INPUT.to_string();
        for (i, layer) in member.hidden.iter().enumerate() {
            let prefix = format!("m{m}.hidden{i}");
            x = g.dense(x, &prefix, layer);
            if let Some(norm) = member.norms.get(i) {
                let n = norm.gamma.len() as i64;
                let gamma = g.constant(format!("{prefix}.gamma"), vec![n], norm.gamma.clone());
                let beta = g.constant(format!("{prefix}.beta"), vec![n], norm.beta.clone());
                x = g.node(
                    "LayerNormalization",
                    vec![x, gamma, beta],
                    format!("{prefix}.norm"),
                    vec![int_attribute("axis", -1), float_attribute("epsilon", 1e-5)],
                );
            }
            x = activation(&mut g, member.activation, x, &format!("{prefix}.act"));
        }
        x = g.dense(x, &format!("m{m}.output"), &member.output);
        x = match head {
            Head::Multiclass { .. } => g.node(
                "Softmax",
                vec![x],
                format!("m{m}.head"),
                vec![int_attribute("axis", 1)],
            ),
            Head::Binary | Head::Multilabel { .. } => {
                g.node("Sigmoid", vec![x], format!("m{m}.head"), Vec::new())
            }
            Head::Regression { .. } | Head::Reconstruction { .. } => x,
        };
        member_outputs.push(x);
    }
    let averaged = if member_outputs.len() == 1 {
        g.node("Identity", member_outputs, ONNX_OUTPUT.into(), Vec::new())
    } else {
        let n = member_outputs.len();
        let sum = g.node("Sum", member_outputs, "members.sum".into(), Vec::new());
        let scale = g.constant("members.scale".into(), vec![], vec![1.0 / n as f32]);
        g.node("Mul", vec![sum, scale], ONNX_OUTPUT.into(), Vec::new())
    };
    let tensor = |name: &str, columns: usize| ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto {
                    dim: vec![
                        Dimension {
                            dim_value: None,
                            dim_param: Some("rows".into()),
                        },
                        Dimension {
                            dim_value: Some(columns as i64),
                            dim_param: None,
                        },
                    ],
                }),
            }),
        }),
    };
    let model = ModelProto {
        ir_version: 8,
        producer_name: "indus".into(),
        producer_version: producer_version.into(),
        graph: Some(GraphProto {
            node: g.nodes,
            name: "indus".into(),
            initializer: g.initializers,
            input: vec![tensor(graph_input.0, graph_input.1)],
            output: vec![tensor(&averaged, outputs)],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
    };
    Ok(model.encode_to_vec())
}

/// Nodes turning `raw` into `inputs`, step by step; returns the raw width
/// and the number of model inputs made.
fn preprocessing(g: &mut Graph, steps: &[OnnxInputStep]) -> (usize, usize) {
    let binned =
        |s: &OnnxInputStep| matches!(s, OnnxInputStep::Number { bins, .. } if bins.len() >= 2);
    let logged = |s: &OnnxInputStep| matches!(s, OnnxInputStep::Number { log1p: true, .. });
    // Constants only where a step uses them (ONNX Runtime warns of unused ones).
    let one = if steps.iter().any(|s| binned(s) || logged(s)) {
        g.constant("pre.one".into(), vec![], vec![1.0])
    } else {
        String::new()
    };
    let zero = if steps.iter().any(binned) {
        g.constant("pre.zero".into(), vec![], vec![0.0])
    } else {
        String::new()
    };
    let axis = g.ints("pre.axis".into(), vec![1]);
    let (mut offset, mut features, mut pieces) = (0usize, 0usize, Vec::new());
    for (i, step) in steps.iter().enumerate() {
        let p = format!("pre{i}");
        let w = step.raw_width();
        let starts = g.ints(format!("{p}.start"), vec![offset as i64]);
        let ends = g.ints(format!("{p}.end"), vec![(offset + w) as i64]);
        let x = g.node(
            "Slice",
            vec![ONNX_RAW_INPUT.into(), starts, ends, axis.clone()],
            format!("{p}.raw"),
            Vec::new(),
        );
        offset += w;
        match step {
            OnnxInputStep::Number {
                fill,
                log1p,
                shift,
                scale,
                bins,
            } => {
                let missing = g.node("IsNaN", vec![x.clone()], format!("{p}.missing"), Vec::new());
                let fill = g.constant(format!("{p}.fill"), vec![], vec![*fill]);
                let mut v = g.node(
                    "Where",
                    vec![missing, fill, x],
                    format!("{p}.filled"),
                    Vec::new(),
                );
                if *log1p {
                    let plus = g.node(
                        "Add",
                        vec![v, one.clone()],
                        format!("{p}.plus1"),
                        Vec::new(),
                    );
                    v = g.node("Log", vec![plus], format!("{p}.log1p"), Vec::new());
                }
                let shift = g.constant(format!("{p}.shift"), vec![], vec![*shift]);
                let scale = g.constant(format!("{p}.scale"), vec![], vec![*scale]);
                let centred = g.node(
                    "Sub",
                    vec![v.clone(), shift],
                    format!("{p}.centred"),
                    Vec::new(),
                );
                pieces.push(g.node(
                    "Div",
                    vec![centred, scale],
                    format!("{p}.scaled"),
                    Vec::new(),
                ));
                features += 1;
                if bins.len() >= 2 {
                    let n = bins.len() - 1;
                    let lows = g.constant(format!("{p}.lows"), vec![n as i64], bins[..n].to_vec());
                    let widths: Vec<f32> = bins.windows(2).map(|e| e[1] - e[0]).collect();
                    let widths = g.constant(format!("{p}.widths"), vec![n as i64], widths);
                    let from = g.node("Sub", vec![v, lows], format!("{p}.from"), Vec::new());
                    let ramp = g.node("Div", vec![from, widths], format!("{p}.ramp"), Vec::new());
                    pieces.push(g.node(
                        "Clip",
                        vec![ramp, zero.clone(), one.clone()],
                        format!("{p}.bins"),
                        Vec::new(),
                    ));
                    features += n;
                }
            }
            OnnxInputStep::OneHot { classes } => {
                let k = *classes;
                let ids = g.constant(
                    format!("{p}.ids"),
                    vec![k as i64],
                    (0..k).map(|c| c as f32).collect(),
                );
                let hit = g.node("Equal", vec![x, ids], format!("{p}.hit"), Vec::new());
                pieces.push(g.node(
                    "Cast",
                    vec![hit],
                    format!("{p}.onehot"),
                    vec![int_attribute("to", 1)],
                ));
                features += k;
            }
            OnnxInputStep::Pixels {
                width,
                divisor,
                mean,
                std,
            } => {
                let divisor = g.constant(format!("{p}.divisor"), vec![], vec![*divisor]);
                let mut v = g.node("Div", vec![x, divisor], format!("{p}.divided"), Vec::new());
                if !mean.is_empty() {
                    let m = g.constant(format!("{p}.mean"), vec![*width as i64], mean.clone());
                    let s = g.constant(format!("{p}.std"), vec![*width as i64], std.clone());
                    let centred = g.node("Sub", vec![v, m], format!("{p}.centred"), Vec::new());
                    v = g.node(
                        "Div",
                        vec![centred, s],
                        format!("{p}.standardised"),
                        Vec::new(),
                    );
                }
                pieces.push(v);
                features += width;
            }
        }
    }
    g.node(
        "Concat",
        pieces,
        ONNX_INPUT.into(),
        vec![int_attribute("axis", 1)],
    );
    (offset, features)
}

/// The hidden activation as ONNX nodes (GELU written out with `Erf`, as
/// opset 17 has no `Gelu`: `x · (1 + erf(x / √2)) / 2`).
fn activation(g: &mut Graph, activation: Activation, x: String, name: &str) -> String {
    match activation {
        Activation::Relu => g.node("Relu", vec![x], name.into(), Vec::new()),
        Activation::Tanh => g.node("Tanh", vec![x], name.into(), Vec::new()),
        Activation::Sigmoid => g.node("Sigmoid", vec![x], name.into(), Vec::new()),
        Activation::Gelu => {
            let root2 = g.constant(
                format!("{name}.sqrt2"),
                vec![],
                vec![std::f32::consts::SQRT_2],
            );
            let one = g.constant(format!("{name}.one"), vec![], vec![1.0]);
            let half = g.constant(format!("{name}.half"), vec![], vec![0.5]);
            let scaled = g.node(
                "Div",
                vec![x.clone(), root2],
                format!("{name}.div"),
                Vec::new(),
            );
            let erf = g.node("Erf", vec![scaled], format!("{name}.erf"), Vec::new());
            let plus = g.node("Add", vec![erf, one], format!("{name}.add"), Vec::new());
            let times = g.node("Mul", vec![x, plus], format!("{name}.mul"), Vec::new());
            g.node("Mul", vec![times, half], name.into(), Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights::DenseWeights;

    fn dense(inputs: usize, outputs: usize) -> DenseWeights {
        DenseWeights {
            inputs,
            outputs,
            weight: (0..inputs * outputs).map(|i| i as f32 / 10.0).collect(),
            bias: vec![0.1; outputs],
        }
    }

    #[test]
    fn a_model_decodes_back_with_one_gemm_per_layer_and_refuses_embeddings() {
        let net = MlpWeights {
            hidden: vec![dense(3, 4)],
            norms: Vec::new(),
            output: dense(4, 2),
            activation: Activation::Relu,
            embeddings: Vec::new(),
            convs: Vec::new(),
            image: None,
        };
        let bytes = to_onnx(
            &[net.clone(), net.clone()],
            Head::Multiclass { classes: 2 },
            "0",
        )
        .unwrap();
        let model = ModelProto::decode(bytes.as_slice()).unwrap();
        let graph = model.graph.unwrap();
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops.iter().filter(|o| **o == "Gemm").count(), 4, "{ops:?}");
        assert_eq!(ops.last(), Some(&"Mul"));
        assert_eq!(graph.output[0].name, ONNX_OUTPUT);
        let w = graph
            .initializer
            .iter()
            .find(|t| t.name == "m0.hidden0.weight")
            .unwrap();
        assert_eq!(w.dims, [3, 4]);
        let mut with_ids = net;
        with_ids.embeddings.push(crate::weights::EmbeddingWeights {
            position: 0,
            rows: 2,
            dim: 1,
            table: vec![0.0, 1.0],
        });
        let e = to_onnx(&[with_ids], Head::Binary, "0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("embeddings"), "{e}");
    }
}
