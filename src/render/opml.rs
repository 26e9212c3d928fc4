//! Writes the OPML 2.0 list of every feed, so a reader can subscribe to many regions at once.

use std::fmt::Write;

use super::{abs_url, display_name, escape, feed_path, html_path};
use crate::regions::{Region, Regions};

/// One `<outline type="rss">` for a feed (OPML readers use `rss` for Atom feeds too).
fn feed_outline(
    out: &mut String,
    base: &url::Url,
    region: Option<&Region>,
    text: &str,
    indent: &str,
) {
    let _ = writeln!(
        out,
        "{indent}<outline type=\"rss\" text=\"{}\" title=\"{}\" xmlUrl=\"{}\" htmlUrl=\"{}\"/>",
        escape(text),
        escape(&format!("{} — regionfeed", display_name(region))),
        escape(&abs_url(base, &feed_path(region))),
        escape(&abs_url(base, &html_path(region))),
    );
}

/// Renders the OPML document: Sverige first, then one folder per län holding the län feed
/// followed by its kommuner, in SCB code order.
///
/// There is no `dateCreated`: the document depends only on its arguments, so its ETag is stable.
pub fn opml(base_url: &url::Url, regions: &Regions) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n");
    out.push_str("  <head>\n    <title>regionfeed — alla flöden per län och kommun</title>\n");
    out.push_str("    <docs>http://opml.org/spec2.opml</docs>\n  </head>\n  <body>\n");
    feed_outline(&mut out, base_url, None, "Sverige", "    ");
    for lan in regions.lan() {
        let _ = writeln!(out, "    <outline text=\"{}\">", escape(&lan.name));
        feed_outline(&mut out, base_url, Some(lan), &lan.name, "      ");
        for kommun in regions.kommuner_in(&lan.code) {
            feed_outline(&mut out, base_url, Some(kommun), &kommun.name, "      ");
        }
        out.push_str("    </outline>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}
