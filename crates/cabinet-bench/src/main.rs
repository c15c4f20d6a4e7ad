//! `cabinet-bench`: measures cabinet side by side with real peers.

fn main() {}
