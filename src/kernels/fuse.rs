//! The GPU fusion pass: a plan's op list as the layers emit it (one place per
//! layer, every step its own launch) rewritten into fewer launches, each fused
//! op a kernel with its twin (the flags of `abi`):
//!
//!   unpool     a conv grad input or dense dX, the max-pool backward that reads it
//!              and the ReLU backward after that: one GEMM whose store sends each
//!              value through the pool's argmax (masked by the pool's output, which
//!              is the ReLU's at the argmax), so the pooled gradient is never stored
//!   mask       a conv grad input or dense dX and the ReLU backward of the layer
//!              below: the GEMM's store masks
//!   grad bias  a weight gradient and its bias gradient (and their split-K sums):
//!              one GEMM whose first column of tiles also sums dY's rows, and one
//!              sum of the partial slices for both
//!   loss       softmax cross-entropy and the running sums after it: one launch
//!              (one workgroup, summing the rows as xent_accumulate does)
//!   one sum    every split-K sum of the plan in one launch before the optimizer,
//!              each weight gradient's partial slices in a scratch region of its
//!              own (the net sizes the scratch for that), the sums' table a buffer
//!
//! Results equal the unfused ops' within rounding (the bias sums run in another
//! order). The CPU engines run plans as emitted; the native engine fuses in its
//! own way (native/fuse.rs).

use super::op::{self, Grid, Op, View};
use super::{BiasGradDims, ConvDims, Dims, Kernel, MatmulDims, PoolDims, SegmentsDims, SplitDims};
use super::{FLAG_GRAD_BIAS, FLAG_MASK, FLAG_UNPOOL};

/// A plan after the pass: its launches, and where each op of the plan as emitted
/// went (None: its work is done by another launch).
pub struct Fused {
    pub ops: Vec<Op>,
    pub at: Vec<Option<usize>>,
    /// The one sum's op (in `ops`) and its table, for a buffer the caller makes
    /// and binds in the op's last slot.
    pub table: Option<(usize, Vec<u32>)>,
}

/// The mask and argmax slots of a grad-input GEMM with a fused store (conv, or
/// dense as matmul_grad), after its output and two operands.
const MASK_SLOT: usize = 3;
const ARGMAX_SLOT: usize = 4;

/// A grad-input GEMM as the kernel whose store the pass fuses: a conv's own, a
/// dense product's `matmul_grad` (the slots bound to B until set).
fn as_grad(gemm: &Op) -> Op {
    match gemm.kernel {
        Kernel::Matmul => {
            let v = &gemm.views;
            op::matmul_grad(v[0], v[1], v[2], v[2], v[2], MatmulDims::from_params(&gemm.params))
        }
        _ => gemm.clone(),
    }
}

/// The pass over `ops`, whose split-K scratch (if any) is `scratch` words long.
pub fn fuse(ops: Vec<Op>, scratch: usize) -> Fused {
    let mut slots: Vec<Option<Op>> = ops.into_iter().map(Some).collect();
    unpool(&mut slots);
    mask(&mut slots);
    grad_bias(&mut slots);
    loss(&mut slots);
    let table = one_sum(&mut slots, scratch);
    let mut at = Vec::with_capacity(slots.len());
    let mut ops = Vec::new();
    for slot in slots {
        at.push(slot.map(|op| {
            ops.push(op);
            ops.len() - 1
        }));
    }
    let table = table.map(|(i, t)| (at[i].expect("the one sum is kept"), t));
    Fused { ops, at, table }
}

/// The live op after `i`, if any.
fn next(slots: &[Option<Op>], i: usize) -> Option<usize> {
    (i + 1..slots.len()).find(|&j| slots[j].is_some())
}

/// Whether op `i` is a gradient-of-input GEMM with a plain store (no epilogue yet).
fn grad_input(slots: &[Option<Op>], i: usize) -> bool {
    match &slots[i] {
        Some(op) if op.kernel == Kernel::Conv2dBackwardInput => ConvDims::from_params(&op.params).flags == 0,
        Some(op) if op.kernel == Kernel::Matmul => MatmulDims::from_params(&op.params).flags == 0,
        _ => false,
    }
}

/// Whether only the ops at `allowed` bind `v`'s buffer.
fn only_read_by(slots: &[Option<Op>], v: View, allowed: &[usize]) -> bool {
    slots
        .iter()
        .enumerate()
        .all(|(j, op)| allowed.contains(&j) || op.as_ref().is_none_or(|op| op.views.iter().all(|w| w.buf != v.buf)))
}

fn unpool(slots: &mut [Option<Op>]) {
    for i in 0..slots.len() {
        let Some(j) = next(slots, i) else { break };
        let (Some(gemm), Some(pool)) = (&slots[i], &slots[j]) else { continue };
        if !grad_input(slots, i) || pool.kernel != Kernel::MaxpoolBackward || pool.views[1] != gemm.views[0] {
            continue;
        }
        let (full, argmax) = (pool.views[0], pool.views[2]);
        let p = PoolDims::from_params(&pool.params);
        let (ph, pw) = (p.h / p.k, p.w / p.k);
        // the ReLU before the pool, whose backward follows: masked by the pool's output
        let relu = next(slots, j)
            .filter(|&r| slots[r].as_ref().is_some_and(|op| op.kernel == Kernel::ReluBackward && op.views[0] == full));
        let pooled =
            slots.iter().flatten().find(|f| f.kernel == Kernel::MaxpoolForward && f.views[1].buf == argmax.buf);
        // whose output is the ReLU's at each argmax, where the ReLU's output is the pool's input
        let relu_y = relu.and_then(|r| slots[r].as_ref()).map(|op| op.views[1]);
        let mask = relu.and(pooled.filter(|f| Some(f.views[2]) == relu_y).map(|f| f.views[0]));
        if relu.is_some() && mask.is_none() {
            continue;
        }
        if !only_read_by(slots, gemm.views[0], &[i, j]) {
            continue;
        }
        let mut op = as_grad(gemm);
        let flags = FLAG_UNPOOL | if mask.is_some() { FLAG_MASK } else { 0 };
        if op.kernel == Kernel::Conv2dBackwardInput {
            let mut d = ConvDims::from_params(&op.params);
            if (d.n, d.cin, d.h, d.w) != (p.n, p.c, ph, pw) {
                continue;
            }
            (d.flags, d.epi) = (flags, [p.k, p.h, p.w]);
            op.params = d.params();
        } else {
            let mut d = MatmulDims::from_params(&op.params);
            if (d.m, d.n) != (p.n, p.c * ph * pw) {
                continue;
            }
            d.flags = flags;
            d.epi[..6].copy_from_slice(&[p.k, p.h, p.w, p.c, ph, pw]);
            op.params = d.params();
        }
        op.views[0] = full;
        op.views[MASK_SLOT] = mask.unwrap_or(op.views[MASK_SLOT]);
        op.views[ARGMAX_SLOT] = argmax;
        slots[i] = Some(op);
        slots[j] = None;
        if let Some(r) = relu {
            slots[r] = None;
        }
    }
}

fn mask(slots: &mut [Option<Op>]) {
    for i in 0..slots.len() {
        let Some(j) = next(slots, i) else { break };
        let (Some(gemm), Some(relu)) = (&slots[i], &slots[j]) else { continue };
        if !grad_input(slots, i) || relu.kernel != Kernel::ReluBackward || relu.views[0] != gemm.views[0] {
            continue;
        }
        let mut op = as_grad(gemm);
        op.views[MASK_SLOT] = relu.views[1];
        if op.kernel == Kernel::Conv2dBackwardInput {
            let d = ConvDims { flags: FLAG_MASK, ..ConvDims::from_params(&op.params) };
            op.params = d.params();
        } else {
            let d = MatmulDims { flags: FLAG_MASK, ..MatmulDims::from_params(&op.params) };
            op.params = d.params();
        }
        slots[i] = Some(op);
        slots[j] = None;
    }
}

/// The op at `i` if it is a split-K sum of `part`'s slices: its total.
fn sum_of(slots: &[Option<Op>], i: Option<usize>, part: View) -> Option<(usize, View)> {
    let i = i?;
    let op = slots[i].as_ref()?;
    (op.kernel == Kernel::SumSplits && op.views[1] == part).then_some((i, op.views[0]))
}

fn grad_bias(slots: &mut [Option<Op>]) {
    for i in 0..slots.len() {
        let Some(wgrad) = slots[i].clone() else { continue };
        let (rows, dy) = match wgrad.kernel {
            Kernel::Conv2dBackwardWeight => (ConvDims::from_params(&wgrad.params).cout, wgrad.views[1]),
            Kernel::Matmul => (MatmulDims::from_params(&wgrad.params).m, wgrad.views[1]),
            _ => continue,
        };
        // the weight gradient, its sum, the bias gradient, its sum, each where there is one
        let wsum = sum_of(slots, next(slots, i), wgrad.views[0]);
        let Some(b) = next(slots, wsum.map_or(i, |s| s.0)) else { continue };
        let Some(bias) = slots[b].clone() else { continue };
        if bias.kernel != Kernel::BiasGrad || bias.views[1] != dy {
            continue;
        }
        let bsum = sum_of(slots, next(slots, b), bias.views[0]);
        let (gw, gb) = (wsum.map_or(wgrad.views[0], |s| s.1), bsum.map_or(bias.views[0], |s| s.1));
        let g = BiasGradDims::from_params(&bias.params);
        if gw.buf != gb.buf || gb.offset < gw.offset + gw.len || g.channels != rows || gb.len != rows as usize {
            continue;
        }
        let bias_to = gb.offset - gw.offset;
        let mut op = wgrad.clone();
        match wgrad.kernel {
            Kernel::Conv2dBackwardWeight => {
                let mut d = ConvDims::from_params(&op.params);
                let (ho, wo) = d.out_hw();
                if (g.outer, g.inner as usize) != (d.n, ho * wo) || d.flags != 0 {
                    continue;
                }
                d.flags = FLAG_GRAD_BIAS;
                let splits = d.splits as usize;
                if splits == 1 {
                    op.views[0] = View { len: bias_to + gb.len, ..gw };
                    d.epi[0] = bias_to as u32;
                } else {
                    // compact slices (dW then the bias), one sum for both past the padding
                    let Some((s, _)) = wsum else { continue };
                    let part = View { len: splits * (gw.len + gb.len), ..wgrad.views[0] };
                    op.views[0] = part;
                    d.epi[0] = gw.len as u32;
                    let total = View { len: bias_to + gb.len, ..gw };
                    let sd = SplitDims::new(gw.len + gb.len, splits).with_gap(gw.len, bias_to);
                    slots[s] = Some(op::sum_splits(total, part, sd));
                }
                op.params = d.params();
            }
            _ => {
                let mut d = MatmulDims::from_params(&op.params);
                // dW = dYᵀ·X, unsplit: A's rows are dY's columns, its K the batch
                let split = matches!(op.grid, Grid::Gemm { splits: 2.., .. });
                if wsum.is_some() || bsum.is_some() || split || d.flags != 0 {
                    continue;
                }
                if (g.outer, g.inner, d.a_rs, d.a_cs) != (d.k, 1, 1, d.m) {
                    continue;
                }
                (d.flags, d.epi[0]) = (FLAG_GRAD_BIAS, bias_to as u32);
                op = as_grad(&op);
                op.params = d.params();
                op.views[0] = View { len: bias_to + gb.len, ..gw };
            }
        }
        slots[i] = Some(op);
        slots[b] = None;
        if let Some((s, _)) = bsum {
            slots[s] = None;
        }
    }
}

fn loss(slots: &mut [Option<Op>]) {
    for i in 0..slots.len() {
        let Some(j) = next(slots, i) else { break };
        let (Some(xent), Some(sums)) = (&slots[i], &slots[j]) else { continue };
        if xent.kernel != Kernel::SoftmaxXent || sums.kernel != Kernel::XentAccumulate {
            continue;
        }
        // the same sums, of this launch's losses and hits
        let v = &xent.views;
        if sums.views[..] != [v[3], v[1], v[2]] || sums.params != xent.params {
            continue;
        }
        slots[i] = Some(op::xent_sums(xent.clone()));
        slots[j] = None;
    }
}

/// Offsets of buffer views are multiples of 64 words (256 bytes) on every adapter.
const ALIGN: usize = 64;

/// Every split-K sum moved into one launch at the last one's place: its index and
/// table. Each sum's partial slices move to a region of the scratch of their own,
/// so none is overwritten before the launch; nothing may read a total before it.
fn one_sum(slots: &mut [Option<Op>], scratch: usize) -> Option<(usize, Vec<u32>)> {
    let sums: Vec<usize> =
        (0..slots.len()).filter(|&i| slots[i].as_ref().is_some_and(|op| op.kernel == Kernel::SumSplits)).collect();
    let (&first, &last) = (sums.first()?, sums.last()?);
    if sums.len() < 2 {
        return None;
    }
    let op = |i: usize| slots[i].as_ref().expect("a live op");
    let (total_buf, part_buf) = (op(first).views[0].buf, op(first).views[1].buf);
    // each sum's producer: the op before it writing its partial slices
    let mut producers = Vec::new();
    for &s in &sums {
        let part = op(s).views[1];
        let p = (0..s).rev().find(|&j| slots[j].as_ref().is_some_and(|o| o.views[0] == part))?;
        producers.push(p);
        if op(s).views[0].buf != total_buf || part.buf != part_buf {
            return None;
        }
    }
    // the scratch is theirs alone, and no op touches a total before the last sum
    let ours = |j: usize| sums.contains(&j) || producers.contains(&j);
    if !only_read_by(slots, op(first).views[1], &(0..slots.len()).filter(|&j| ours(j)).collect::<Vec<_>>()) {
        return None;
    }
    let totals: Vec<View> = sums.iter().map(|&s| op(s).views[0]).collect();
    let overlaps =
        |v: &View| totals.iter().any(|t| t.buf == v.buf && v.offset < t.offset + t.len && t.offset < v.offset + v.len);
    if (first..last).any(|j| !ours(j) && slots[j].as_ref().is_some_and(|o| o.views.iter().any(overlaps))) {
        return None;
    }
    let (mut table, mut cursor, mut max_len) = (Vec::new(), 0, 0);
    let lo = sums.iter().map(|&s| op(s).views[0].offset).min()?;
    let hi = sums.iter().map(|&s| op(s).views[0].offset + op(s).views[0].len).max()?;
    let room: usize = sums.iter().map(|&s| op(s).views[1].len.div_ceil(ALIGN) * ALIGN).sum();
    if room > scratch {
        return None;
    }
    let ops: Vec<(View, View, SplitDims)> =
        sums.iter().map(|&s| (op(s).views[0], op(s).views[1], SplitDims::from_params(&op(s).params))).collect();
    for ((total, part, d), &p) in ops.into_iter().zip(&producers) {
        let part = View { offset: cursor, ..part };
        slots[p].as_mut().expect("a live op").views[0] = part;
        table.extend(
            [total.offset - lo, cursor, d.len as usize, d.splits as usize, d.gap_at as usize, d.gap_to as usize]
                .map(|v| v as u32),
        );
        max_len = max_len.max(d.len as usize);
        cursor += part.len.div_ceil(ALIGN) * ALIGN;
    }
    let total = View { buf: total_buf, offset: lo, len: hi - lo };
    let part = View { buf: part_buf, offset: 0, len: cursor };
    // the table's buffer is the caller's to make: bound here as the totals, for now
    slots[last] = Some(op::sum_segments(total, part, total, SegmentsDims::new(sums.len()), max_len));
    for &s in &sums[..sums.len() - 1] {
        slots[s] = None;
    }
    Some((last, table))
}
