//! The ONNX protobuf, written by hand: a few message types, varints and
//! length-delimited fields, and the graph each layer kind adds its nodes and
//! initialisers to (layers/); `crate::onnx` puts a model's graph in a file.

pub(crate) const FLOAT: u64 = 1;

/// A protobuf message under construction.
#[derive(Default)]
pub(crate) struct Msg(pub(crate) Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u64, wire: u64) {
        self.varint(field << 3 | wire);
    }
    pub(crate) fn int(&mut self, field: u64, v: u64) -> &mut Self {
        self.key(field, 0);
        self.varint(v);
        self
    }
    pub(crate) fn bytes(&mut self, field: u64, b: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    pub(crate) fn str(&mut self, field: u64, s: &str) -> &mut Self {
        self.bytes(field, s.as_bytes())
    }
    pub(crate) fn msg(&mut self, field: u64, m: &Msg) -> &mut Self {
        self.bytes(field, &m.0)
    }
    pub(crate) fn float(&mut self, field: u64, v: f32) -> &mut Self {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}

/// AttributeProto: name 1, f 2, i 3, ints 8, type 20 (FLOAT 1, INT 2, INTS 7).
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
}

fn attribute(name: &str, a: &Attr) -> Msg {
    let mut m = Msg::default();
    m.str(1, name);
    match a {
        Attr::Float(f) => {
            m.float(2, *f).int(20, 1);
        }
        Attr::Int(i) => {
            m.int(3, *i as u64).int(20, 2);
        }
        Attr::Ints(v) => {
            for &i in v {
                m.int(8, i as u64);
            }
            m.int(20, 7);
        }
    }
    m
}

/// The graph as it is built: nodes, initializers, and the name of the value the next layer reads.
pub struct Graph {
    pub(crate) nodes: Vec<Msg>,
    pub(crate) inits: Vec<Msg>,
    last: String,
    count: usize,
}

impl Graph {
    /// An empty graph whose first node reads the value `input`.
    pub(crate) fn new(input: &str) -> Graph {
        Graph { nodes: Vec::new(), inits: Vec::new(), last: input.into(), count: 0 }
    }

    /// A node (NodeProto: input 1, output 2, name 3, op_type 4, attribute 5) reading
    /// `last`, then `inputs`, and writing a new value, which becomes `last`.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) {
        self.count += 1;
        let out = format!("{}_{}", op.to_ascii_lowercase(), self.count);
        self.node_to(op, inputs, attrs, out);
    }

    /// As `node`, writing the value named `out`.
    pub fn node_to(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)], out: String) {
        let mut n = Msg::default();
        n.str(1, &self.last);
        for i in inputs {
            n.str(1, i);
        }
        n.str(2, &out).str(3, &out).str(4, op);
        for (name, a) in attrs {
            n.msg(5, &attribute(name, a));
        }
        self.nodes.push(n);
        self.last = out;
    }

    /// An initializer (TensorProto: dims 1, data_type 2, name 8, raw_data 9).
    pub fn tensor(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        let mut t = Msg::default();
        for &d in dims {
            t.int(1, d as u64);
        }
        t.int(2, FLOAT).str(8, name);
        t.bytes(9, &data.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
        self.inits.push(t);
        name.to_string()
    }
}
