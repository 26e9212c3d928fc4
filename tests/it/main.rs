//! The one integration-test binary: each module tests one area of regionfeed.

mod cli;
mod daemon;
mod dedup;
mod fetch;
mod normalize;
mod parse;
mod pipeline;
mod readers;
mod render;
mod serve;
mod service;
mod stories;
mod support;
mod tag;
