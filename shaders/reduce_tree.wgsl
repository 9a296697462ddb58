//! Workgroup sums, shared-memory tree (every adapter). The loader pastes it (or
//! reduce_subgroup.wgsl, its subgroup twin) where a file says `//#include reduce.wgsl`.
//! The including file's 256-lane entry points take a `Lane` and call
//! workgroup_sum from uniform control flow; every lane gets the total.

struct Lane {
    @builtin(local_invocation_index) li: u32,
}

var<workgroup> red: array<vec2<f32>, 256>;

// Σ of v over the workgroup's 256 lanes, two sums at once, in a fixed order.
fn workgroup_sum(lane: Lane, v: vec2<f32>) -> vec2<f32> {
    red[lane.li] = v;
    workgroupBarrier();
    for (var w = 128u; w > 0u; w >>= 1u) {
        if (lane.li < w) { red[lane.li] += red[lane.li + w]; }
        workgroupBarrier();
    }
    let total = red[0];
    // the next call writes `red` again only after every lane has read the total
    workgroupBarrier();
    return total;
}
