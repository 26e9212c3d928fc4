//! The one integration-test binary: each module tests one area of regionfeed.

mod cli;
mod daemon;
mod normalize;
mod parse;
mod pipeline;
mod render;
mod support;
mod tag;
