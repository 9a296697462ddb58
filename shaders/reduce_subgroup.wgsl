//! Workgroup sums on subgroup operations (adapters with SUBGROUP): the interface
//! of reduce_tree.wgsl, one subgroupAdd per lane and four barriers instead of ten.
//! Nothing is assumed of how the driver groups lanes: any subgroup size from 4 to
//! 128 (lavapipe 8, SwiftShader 4, NVIDIA 32, AMD 32 or 64), partial subgroups,
//! any numbering. Each subgroup is known by its lowest lane index (subgroupMin),
//! which is unique; a bit per lane marks those leaders, so each subgroup finds its
//! rank among them and stores its total at that rank, and every lane adds the
//! totals in rank order: the same order, and sum, on every run.
//! naga 30 takes subgroup operations without WGSL's `enable subgroups;` (which it
//! rejects as unimplemented); the device's SUBGROUP feature allows them. Browsers
//! need the directive: the web export puts it first.

struct Lane {
    @builtin(local_invocation_index) li: u32,
}

var<workgroup> red: array<vec2<f32>, 256>;     // subgroup totals by rank
var<workgroup> leaders: array<atomic<u32>, 8>; // bit i of word i / 32: lane i leads its subgroup

// Σ of v over the workgroup's 256 lanes, two sums at once, in a fixed order.
fn workgroup_sum(lane: Lane, v: vec2<f32>) -> vec2<f32> {
    let li = lane.li;
    if (li < 8u) { atomicStore(&leaders[li], 0u); }
    workgroupBarrier();
    let s = subgroupAdd(v);
    let leads = li == subgroupMin(li);
    if (leads) { atomicOr(&leaders[li / 32u], 1u << (li % 32u)); }
    workgroupBarrier();
    // how many subgroups there are, and how many lead with a lower lane than this one
    var count = 0u;
    var rank = 0u;
    for (var w = 0u; w < 8u; w++) {
        let bits = atomicLoad(&leaders[w]);
        count += countOneBits(bits);
        if (w < li / 32u) {
            rank += countOneBits(bits);
        } else if (w == li / 32u) {
            rank += countOneBits(bits & ((1u << (li % 32u)) - 1u));
        }
    }
    if (leads) { red[rank] = s; }
    workgroupBarrier();
    var total = vec2<f32>(0.0);
    for (var i = 0u; i < count; i++) { total += red[i]; }
    // the next call clears `leaders` and writes `red` only after every lane has read them
    workgroupBarrier();
    return total;
}
