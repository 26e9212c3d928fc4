//! regionfeed: Swedish police and local news, tagged by kommun and län, republished as Atom.
#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod dedup;
pub mod fetch;
pub mod health;
pub mod hosts;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod notify;
pub mod parse;
pub mod pipeline;
pub mod police;
pub mod publish;
pub mod regions;
pub mod render;
pub mod scheduler;
pub mod serve;
pub mod store;
pub mod tag;
pub mod timing;
pub mod websub;
