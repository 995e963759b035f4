//! Closed-form NNGP/NTK kernels of infinitely wide fully connected networks, the infinite
//! ensemble's Gaussian outputs under gradient flow, and information quantities from them.
