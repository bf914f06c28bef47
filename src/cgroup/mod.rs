//! cgroups: limits on memory, CPU and process counts for a group of
//! processes, on cgroup v1, v2 and hybrid hosts. Read `cgroups(7)`.

pub mod detect;
