//! The FID Inception-v3 graph as data: pytorch-fid's `fid_inception_v3` (torchvision's
//! `Inception3` with its `Mixed_5b..d`, `Mixed_6b..e`, `Mixed_7b`, `Mixed_7c` swapped for
//! `FIDInceptionA`, `FIDInceptionC`, `FIDInceptionE_1` and `FIDInceptionE_2`) from the input
//! to the last mixed block. One description serves the weight names and shapes, the loader and
//! the forward pass, so they cannot disagree.

/// One `BasicConv2d`: a bias-free convolution, BatchNorm (eps 1e-3) and ReLU, its tensors
/// under `{name}.conv.weight` and `{name}.bn.{weight,bias,running_mean,running_var}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    pub name: String,
    pub cin: usize,
    pub cout: usize,
    /// Kernel height and width.
    pub k: [usize; 2],
    pub stride: usize,
    /// Zero padding rows (top and bottom) and columns (left and right).
    pub pad: [usize; 2],
}

impl ConvSpec {
    /// Shape of `{name}.conv.weight`.
    pub fn weight_shape(&self) -> [usize; 4] {
        [self.cout, self.cin, self.k[0], self.k[1]]
    }
}

/// A step of a branch.
#[derive(Clone, Debug)]
pub enum Layer<C> {
    Conv(C),
    /// 3×3, stride 1, pad 1, the padding excluded from the divisor (the FID patch).
    AvgPool3,
    /// 3×3, stride 1, pad 1 (FIDInceptionE_2's pool branch).
    MaxPool3Pad,
    /// 3×3, stride 2, no padding.
    MaxPool3Stride2,
}

/// Layers applied in turn, then (InceptionE) convolutions applied side by side to the result
/// and concatenated along channels.
#[derive(Clone, Debug)]
pub struct Branch<C> {
    pub layers: Vec<Layer<C>>,
    pub fork: Vec<C>,
}

/// The whole graph: the stem (up to the second max pool), then mixed blocks whose branches are
/// concatenated along channels. The 2048 channels of the last block are averaged over H×W
/// (pool3).
#[derive(Clone, Debug)]
pub struct Graph<C> {
    pub stem: Branch<C>,
    pub blocks: Vec<Vec<Branch<C>>>,
}

impl<C> Branch<C> {
    fn try_map<D, E>(self, f: &mut impl FnMut(C) -> Result<D, E>) -> Result<Branch<D>, E> {
        let layers = self
            .layers
            .into_iter()
            .map(|l| {
                Ok(match l {
                    Layer::Conv(c) => Layer::Conv(f(c)?),
                    Layer::AvgPool3 => Layer::AvgPool3,
                    Layer::MaxPool3Pad => Layer::MaxPool3Pad,
                    Layer::MaxPool3Stride2 => Layer::MaxPool3Stride2,
                })
            })
            .collect::<Result<_, E>>()?;
        let fork = self.fork.into_iter().map(f).collect::<Result<_, E>>()?;
        Ok(Branch { layers, fork })
    }

    fn convs(&self) -> impl Iterator<Item = &C> {
        let layers = self.layers.iter().filter_map(|l| match l {
            Layer::Conv(c) => Some(c),
            _ => None,
        });
        layers.chain(&self.fork)
    }
}

impl<C> Graph<C> {
    /// The same graph with every convolution mapped by `f` (in [`Graph::convs`] order).
    pub fn try_map<D, E>(self, mut f: impl FnMut(C) -> Result<D, E>) -> Result<Graph<D>, E> {
        let stem = self.stem.try_map(&mut f)?;
        let blocks = self
            .blocks
            .into_iter()
            .map(|b| b.into_iter().map(|br| br.try_map(&mut f)).collect())
            .collect::<Result<_, E>>()?;
        Ok(Graph { stem, blocks })
    }

    /// Every convolution, stem first, then block by block and branch by branch.
    pub fn convs(&self) -> impl Iterator<Item = &C> {
        let blocks = self.blocks.iter().flatten().flat_map(Branch::convs);
        self.stem.convs().chain(blocks)
    }
}

/// Builds the convolutions of one block, named `{block}.{branch}`.
struct Namer<'a>(&'a str);

impl Namer<'_> {
    fn conv(
        &self,
        name: &str,
        cin: usize,
        cout: usize,
        k: [usize; 2],
        pad: [usize; 2],
    ) -> ConvSpec {
        ConvSpec {
            name: format!("{}.{name}", self.0),
            cin,
            cout,
            k,
            stride: 1,
            pad,
        }
    }

    fn one(&self, name: &str, cin: usize, cout: usize) -> ConvSpec {
        self.conv(name, cin, cout, [1, 1], [0, 0])
    }

    fn strided(&self, name: &str, cin: usize, cout: usize) -> ConvSpec {
        ConvSpec {
            stride: 2,
            ..self.conv(name, cin, cout, [3, 3], [0, 0])
        }
    }
}

fn seq<C>(layers: Vec<Layer<C>>) -> Branch<C> {
    Branch {
        layers,
        fork: Vec::new(),
    }
}

fn convs(specs: Vec<ConvSpec>) -> Branch<ConvSpec> {
    seq(specs.into_iter().map(Layer::Conv).collect())
}

const K1X7: [usize; 2] = [1, 7];
const K7X1: [usize; 2] = [7, 1];
const P1X7: [usize; 2] = [0, 3];
const P7X1: [usize; 2] = [3, 0];

/// FIDInceptionA: 1×1; 1×1 → 5×5; 1×1 → 3×3 → 3×3; avg pool (padding excluded) → 1×1.
fn block_a(name: &str, cin: usize, pool: usize) -> Vec<Branch<ConvSpec>> {
    let n = Namer(name);
    vec![
        convs(vec![n.one("branch1x1", cin, 64)]),
        convs(vec![
            n.one("branch5x5_1", cin, 48),
            n.conv("branch5x5_2", 48, 64, [5, 5], [2, 2]),
        ]),
        convs(vec![
            n.one("branch3x3dbl_1", cin, 64),
            n.conv("branch3x3dbl_2", 64, 96, [3, 3], [1, 1]),
            n.conv("branch3x3dbl_3", 96, 96, [3, 3], [1, 1]),
        ]),
        seq(vec![
            Layer::AvgPool3,
            Layer::Conv(n.one("branch_pool", cin, pool)),
        ]),
    ]
}

/// InceptionB (Mixed_6a): 3×3 stride 2; 1×1 → 3×3 → 3×3 stride 2; max pool stride 2.
fn block_b(name: &str, cin: usize) -> Vec<Branch<ConvSpec>> {
    let n = Namer(name);
    vec![
        convs(vec![n.strided("branch3x3", cin, 384)]),
        convs(vec![
            n.one("branch3x3dbl_1", cin, 64),
            n.conv("branch3x3dbl_2", 64, 96, [3, 3], [1, 1]),
            n.strided("branch3x3dbl_3", 96, 96),
        ]),
        seq(vec![Layer::MaxPool3Stride2]),
    ]
}

/// FIDInceptionC: 1×1; 1×1 → 1×7 → 7×1; 1×1 → 7×1 → 1×7 → 7×1 → 1×7; avg pool → 1×1.
fn block_c(name: &str, c7: usize) -> Vec<Branch<ConvSpec>> {
    let (n, cin) = (Namer(name), 768);
    vec![
        convs(vec![n.one("branch1x1", cin, 192)]),
        convs(vec![
            n.one("branch7x7_1", cin, c7),
            n.conv("branch7x7_2", c7, c7, K1X7, P1X7),
            n.conv("branch7x7_3", c7, 192, K7X1, P7X1),
        ]),
        convs(vec![
            n.one("branch7x7dbl_1", cin, c7),
            n.conv("branch7x7dbl_2", c7, c7, K7X1, P7X1),
            n.conv("branch7x7dbl_3", c7, c7, K1X7, P1X7),
            n.conv("branch7x7dbl_4", c7, c7, K7X1, P7X1),
            n.conv("branch7x7dbl_5", c7, 192, K1X7, P1X7),
        ]),
        seq(vec![
            Layer::AvgPool3,
            Layer::Conv(n.one("branch_pool", cin, 192)),
        ]),
    ]
}

/// InceptionD (Mixed_7a): 1×1 → 3×3 stride 2; 1×1 → 1×7 → 7×1 → 3×3 stride 2; max pool.
fn block_d(name: &str) -> Vec<Branch<ConvSpec>> {
    let (n, cin) = (Namer(name), 768);
    vec![
        convs(vec![
            n.one("branch3x3_1", cin, 192),
            n.strided("branch3x3_2", 192, 320),
        ]),
        convs(vec![
            n.one("branch7x7x3_1", cin, 192),
            n.conv("branch7x7x3_2", 192, 192, K1X7, P1X7),
            n.conv("branch7x7x3_3", 192, 192, K7X1, P7X1),
            n.strided("branch7x7x3_4", 192, 192),
        ]),
        seq(vec![Layer::MaxPool3Stride2]),
    ]
}

/// FIDInceptionE_1 (`pool` = AvgPool3) / E_2 (MaxPool3Pad): 1×1; 1×1 → (1×3 | 3×1);
/// 1×1 → 3×3 → (1×3 | 3×1); pool → 1×1.
fn block_e(name: &str, cin: usize, pool: Layer<ConvSpec>) -> Vec<Branch<ConvSpec>> {
    let n = Namer(name);
    let pair = |a: &str, b: &str| {
        vec![
            n.conv(a, 384, 384, [1, 3], [0, 1]),
            n.conv(b, 384, 384, [3, 1], [1, 0]),
        ]
    };
    vec![
        convs(vec![n.one("branch1x1", cin, 320)]),
        Branch {
            layers: vec![Layer::Conv(n.one("branch3x3_1", cin, 384))],
            fork: pair("branch3x3_2a", "branch3x3_2b"),
        },
        Branch {
            layers: vec![
                Layer::Conv(n.one("branch3x3dbl_1", cin, 448)),
                Layer::Conv(n.conv("branch3x3dbl_2", 448, 384, [3, 3], [1, 1])),
            ],
            fork: pair("branch3x3dbl_3a", "branch3x3dbl_3b"),
        },
        seq(vec![pool, Layer::Conv(n.one("branch_pool", cin, 192))]),
    ]
}

/// The stem: Conv2d_1a (stride 2), 2a, 2b (pad 1), max pool, 3b (1×1), 4a, max pool.
fn stem() -> Branch<ConvSpec> {
    let top = Namer("");
    let conv = |name: &str, cin, cout, k, stride, pad| ConvSpec {
        name: name.to_string(),
        stride,
        ..top.conv(name, cin, cout, [k, k], [pad, pad])
    };
    seq(vec![
        Layer::Conv(conv("Conv2d_1a_3x3", 3, 32, 3, 2, 0)),
        Layer::Conv(conv("Conv2d_2a_3x3", 32, 32, 3, 1, 0)),
        Layer::Conv(conv("Conv2d_2b_3x3", 32, 64, 3, 1, 1)),
        Layer::MaxPool3Stride2,
        Layer::Conv(conv("Conv2d_3b_1x1", 64, 80, 1, 1, 0)),
        Layer::Conv(conv("Conv2d_4a_3x3", 80, 192, 3, 1, 0)),
        Layer::MaxPool3Stride2,
    ])
}

/// pytorch-fid's FID Inception-v3 up to `Mixed_7c` (2048 channels at 8×8 for a 299×299 input).
pub fn fid_inception_v3() -> Graph<ConvSpec> {
    Graph {
        stem: stem(),
        blocks: vec![
            block_a("Mixed_5b", 192, 32),
            block_a("Mixed_5c", 256, 64),
            block_a("Mixed_5d", 288, 64),
            block_b("Mixed_6a", 288),
            block_c("Mixed_6b", 128),
            block_c("Mixed_6c", 160),
            block_c("Mixed_6d", 160),
            block_c("Mixed_6e", 192),
            block_d("Mixed_7a"),
            block_e("Mixed_7b", 1280, Layer::AvgPool3),
            block_e("Mixed_7c", 2048, Layer::MaxPool3Pad),
        ],
    }
}
