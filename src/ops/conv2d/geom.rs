//! conv2d geometry: the checked problem ([`Geom`]) and the direct convolutions the implicit-GEMM
//! kernels run ([`Direct`]): the forward pass, and the input gradient split into stride phases.

use crate::{Error, Result};

/// A checked conv2d: x [B, C, H, W] * w [O, C, KH, KW], stride, zero padding `pad`, giving
/// y [B, O, OH, OW].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geom {
    pub b: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub pad: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Geom {
    /// Checks the shapes (`Error::Shape` naming both) and the stride and padding
    /// (`Error::Invalid`).
    pub fn new(
        op: &'static str,
        xs: &[usize],
        ws: &[usize],
        stride: usize,
        pad: usize,
    ) -> Result<Geom> {
        if xs.len() != 4 || ws.len() != 4 || xs[1] != ws[1] {
            return Err(Error::Shape {
                op,
                lhs: xs.to_vec(),
                rhs: ws.to_vec(),
            });
        }
        if stride == 0 || xs[2] + 2 * pad < ws[2] || xs[3] + 2 * pad < ws[3] {
            return Err(Error::Invalid {
                op,
                msg: format!(
                    "kernel {:?} with stride {stride}, pad {pad} does not fit input {xs:?}",
                    &ws[2..]
                ),
            });
        }
        Ok(Geom {
            b: xs[0],
            c: xs[1],
            h: xs[2],
            w: xs[3],
            o: ws[0],
            kh: ws[2],
            kw: ws[3],
            stride,
            pad,
            oh: (xs[2] + 2 * pad - ws[2]) / stride + 1,
            ow: (xs[3] + 2 * pad - ws[3]) / stride + 1,
        })
    }

    pub fn x_shape(&self) -> [usize; 4] {
        [self.b, self.c, self.h, self.w]
    }

    pub fn w_shape(&self) -> [usize; 4] {
        [self.o, self.c, self.kh, self.kw]
    }

    pub fn y_shape(&self) -> [usize; 4] {
        [self.b, self.o, self.oh, self.ow]
    }

    /// Multiply-adds times 2 of the forward pass (each backward pass has as many).
    pub fn flops(&self) -> f64 {
        2.0 * (self.b * self.o * self.oh * self.ow) as f64 * (self.c * self.kh * self.kw) as f64
    }

    /// Output pixels of the forward pass, the K of the weight gradient.
    pub fn pixels(&self) -> usize {
        self.b * self.oh * self.ow
    }

    /// The forward pass as a direct convolution of x.
    pub fn forward(&self) -> Direct {
        let (k, p) = ((self.kh * self.kw) as isize, self.pad as isize);
        Direct {
            cin: self.c,
            hin: self.h,
            win: self.w,
            n: self.o,
            ty: self.oh,
            tx: self.ow,
            th: self.kh,
            tw: self.kw,
            sy: self.stride,
            sx: self.stride,
            y0: -p,
            x0: -p,
            wn: self.c as isize * k,
            wc: k,
            wy: self.kw as isize,
            wx: 1,
            w0: 0,
            ob: self.o * self.oh * self.ow,
            on: self.oh * self.ow,
            oy: self.ow,
            ox: 1,
            o0: 0,
        }
    }

    /// The input gradient dx = conv_transpose(dy, w) as one direct convolution of dy per stride
    /// phase (qy, qx): the pixels iy = qy + s·t of dx receive exactly the taps
    /// ky ≡ qy + pad (mod s), so no multiply-add is spent on the zeros a dilated dy would
    /// hold. Phases without taps (s > KH) write zeros.
    pub fn grad_input_phases(&self) -> Vec<Direct> {
        let s = self.stride;
        let mut out = Vec::new();
        for qy in 0..s.min(self.h) {
            for qx in 0..s.min(self.w) {
                out.push(self.phase(qy, qx));
            }
        }
        out
    }

    fn phase(&self, qy: usize, qx: usize) -> Direct {
        let s = self.stride;
        // Along one axis: first tap, tap count, output positions, and the dy coordinate of
        // (t = 0, flipped tap 0): oy = t + j' + origin.
        let axis = |q: usize, k: usize, size: usize| {
            let k0 = (q + self.pad) % s;
            let taps = if k0 < k { (k - 1 - k0) / s + 1 } else { 0 };
            let positions = (size - 1 - q) / s + 1;
            let c0 = ((q + self.pad - k0) / s) as isize;
            (k0, taps, positions, c0 - taps as isize + 1)
        };
        let (ky0, th, ty, y0) = axis(qy, self.kh, self.h);
        let (kx0, tw, tx, x0) = axis(qx, self.kw, self.w);
        let (kw, si) = (self.kw as isize, s as isize);
        // Flipped tap j' is ky = ky0 + s·(th − 1 − j').
        let last_y = (ky0 + s * th.saturating_sub(1)) as isize;
        let last_x = (kx0 + s * tw.saturating_sub(1)) as isize;
        Direct {
            cin: self.o,
            hin: self.oh,
            win: self.ow,
            n: self.c,
            ty,
            tx,
            th,
            tw,
            sy: 1,
            sx: 1,
            y0,
            x0,
            wn: (self.kh * self.kw) as isize,
            wc: (self.c * self.kh * self.kw) as isize,
            wy: -si * kw,
            wx: -si,
            w0: last_y * kw + last_x,
            ob: self.c * self.h * self.w,
            on: self.h * self.w,
            oy: s * self.w,
            ox: s,
            o0: qy * self.w + qx,
        }
    }
}

/// One direct convolution as the implicit-GEMM kernels run it, per image b:
/// `out[b·ob + n·on + ty·oy + tx·ox + o0] = Σ_{ci, jy, jx} src[b, ci, iy, ix] · w[n·wn + ci·wc +
/// jy·wy + jx·wx + w0]` with `iy = ty·sy + jy + y0` (likewise ix), src being zero outside
/// [0, hin) × [0, win). src is x in the forward pass and dy in the input-gradient phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Direct {
    pub cin: usize,
    pub hin: usize,
    pub win: usize,
    /// Output channels.
    pub n: usize,
    /// Output positions per image.
    pub ty: usize,
    pub tx: usize,
    /// Taps.
    pub th: usize,
    pub tw: usize,
    pub sy: usize,
    pub sx: usize,
    pub y0: isize,
    pub x0: isize,
    pub wn: isize,
    pub wc: isize,
    pub wy: isize,
    pub wx: isize,
    pub w0: isize,
    pub ob: usize,
    pub on: usize,
    pub oy: usize,
    pub ox: usize,
    pub o0: usize,
}

impl Direct {
    /// The source rows (or columns) this convolution reads: [y0, last] along y.
    pub fn y_range(&self) -> (isize, isize) {
        let last = ((self.ty - 1) * self.sy + self.th.max(1) - 1) as isize + self.y0;
        (self.y0, last)
    }

    pub fn x_range(&self) -> (isize, isize) {
        let last = ((self.tx - 1) * self.sx + self.tw.max(1) - 1) as isize + self.x0;
        (self.x0, last)
    }

    /// Whether 4 consecutive output positions of an image are 4 consecutive, 16-byte aligned
    /// elements (dense output, positions per image a multiple of 4).
    pub fn dense_quads(&self) -> bool {
        self.ox == 1
            && self.oy == self.tx
            && (self.ty * self.tx).is_multiple_of(4)
            && self.on.is_multiple_of(4)
            && self.ob.is_multiple_of(4)
            && self.o0.is_multiple_of(4)
    }
}
