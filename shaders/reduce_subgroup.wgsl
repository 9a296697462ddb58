//! Workgroup sums on subgroup operations (adapters with SUBGROUP): the interface
//! of reduce_tree.wgsl, one subgroupAdd per lane and two barriers instead of nine.
//! Subgroup s is taken to hold lanes [s·size, (s+1)·size), as every Vulkan, Metal
//! and D3D12 driver lays a one-dimensional workgroup out; the selftest on each
//! adapter checks it (a wrong guess sums some subgroups twice and fails).
//! naga 30 takes subgroup operations without WGSL's `enable subgroups;` (which it
//! rejects as unimplemented); the device's SUBGROUP feature allows them.

struct Lane {
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_invocation_id) sg_lane: u32,
    @builtin(subgroup_size) sg_size: u32,
}

var<workgroup> red: array<vec2<f32>, 256>; // one total per subgroup

// Σ of v over the workgroup's 256 lanes, two sums at once, in a fixed order.
fn workgroup_sum(lane: Lane, v: vec2<f32>) -> vec2<f32> {
    let s = subgroupAdd(v);
    if (lane.sg_lane == 0u) { red[lane.li / lane.sg_size] = s; }
    workgroupBarrier();
    var total = vec2<f32>(0.0);
    for (var i = 0u; i < 256u / lane.sg_size; i++) { total += red[i]; }
    // the next call writes `red` again only after every lane has read the totals
    workgroupBarrier();
    return total;
}
