//! Gatehouse's store. (being written)
pub mod search;
pub mod sql;
