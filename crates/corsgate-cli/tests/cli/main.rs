//! The `corsgate` binary as a real process, against real loopback servers
//! on ephemeral ports. Every process a test starts is killed when its
//! handle drops.

mod check;
mod demo;
mod doctor;
mod export;
mod faults;
#[allow(dead_code)] // also the browser suite's: some parts only it uses
mod pki;
mod proxy;
mod support;
mod tls;
