//! Integration tests of the Azure adapters, one binary. Each test says what it runs against:
//! - **Azurite**: the real Azure Storage emulator, started on a free loopback port (see [`azurite`]);
//! - **REST contract**: a loopback server following the documented ARM / identity / Key Vault behaviour
//!   ([`fake_arm`]), or requests captured through the SDK's HTTP client (Service Bus has no emulator).

mod aci;
mod azurite;
mod blob;
mod cloud;
mod config;
mod fake_arm;
mod identity;
mod servicebus;

use nightshift_azure::{ArmClient, RetryPolicy, StaticToken};
use std::sync::Arc;
use std::time::Duration;

pub const ARM_TOKEN: &str = "static-arm-token-for-tests";

/// Fast retries, so the contract tests take milliseconds where production waits seconds.
pub fn quick_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(3),
        operation_deadline: Duration::from_secs(20),
        default_poll_interval: Duration::from_millis(10),
    }
}

pub fn arm_client(fake: &fake_arm::FakeArm) -> ArmClient {
    ArmClient::new(
        &fake.base,
        fake_arm::SUBSCRIPTION,
        Arc::new(StaticToken::new(ARM_TOKEN)),
    )
    .with_retry_policy(quick_policy())
}
