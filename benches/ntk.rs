//! NTK kernels and ensemble moments (placeholder while the module is written).
fn main() {}
