"""Writes a Polisen-shaped RSS feed of N events in Örebro län's kommuner to stdout, for the
serving benchmark (benches/serve.sh): enough items that the Örebro län feed is full (100)."""

import sys
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from xml.sax.saxutils import escape

N = int(sys.argv[1]) if len(sys.argv) > 1 else 130
PLACES = ["Örebro", "Kumla", "Hallsberg", "Karlskoga", "Lindesberg", "Askersund", "Nora",
          "Degerfors", "Laxå", "Lekeberg", "Hällefors", "Ljusnarsberg"]
KINDS = ["Trafikolycka", "Trafikolycka, personskada", "Brand", "Inbrott", "Stöld",
         "Rån väpnat", "Misshandel", "Skadegörelse"]
MONTHS = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
          "september", "oktober", "november", "december"]
start = datetime(2026, 10, 1, 6, 0, tzinfo=timezone.utc)
items = []
for i in range(N):
    t = start + timedelta(minutes=173 * i)
    place, kind = PLACES[i % len(PLACES)], KINDS[i % len(KINDS)]
    title = f"{t.day:02d} {MONTHS[t.month - 1]} {t.hour:02d}:{t.minute:02d}, {kind}, {place}"
    link = f"https://polisen.example/aktuellt/handelser/2026/{i}/"
    text = (f"Polisen larmades till {place} där en händelse av typen {kind.lower()} "
            f"inträffat. Ingen person uppges ha skadats allvarligt. Ärende {1000 + i}.")
    items.append(
        f"<item><title>{escape(title)}</title><link>{link}</link>"
        f"<guid isPermaLink=\"true\">{link}</guid>"
        f"<description>{escape(text)}</description>"
        f"<pubDate>{format_datetime(t)}</pubDate></item>"
    )
sys.stdout.write(
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    "<title>Polisen – händelser, Örebro län</title><link>https://polisen.example/</link>"
    "<description>Händelser</description>" + "\n".join(items) + "</channel></rss>\n"
)
