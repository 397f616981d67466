//! Azure adapters (work in progress).
