#!/usr/bin/env python3
"""Regenerates the gazetteer data in data/ from the CC0 / CC BY sources in ../shared/data/geo.

Usage: python3 scripts/gen_data.py [SHARED_GEO_DIR]   (default: ../shared/data/geo)
The output is committed; nothing at run time or in tests reads ../shared. Re-running on the same
input gives byte-identical files (rows sorted, no timestamps).
"""
import csv
import math
import os
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data")


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_csv(name, header, rows):
    with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def regions(geo):
    lan = sorted(read_csv(os.path.join(geo, "counties.csv")), key=lambda r: r["county_code"])
    write_csv("lan.csv", ["code", "name", "short_name"],
              [[r["county_code"], r["county_name"], r["county_name_short"]] for r in lan])
    kom = sorted(read_csv(os.path.join(geo, "municipality_county.csv")),
                 key=lambda r: r["municipality_code"])
    # The short names are used: the long "... kommun" names in the source have errors.
    write_csv("kommuner.csv", ["code", "name", "lan"],
              [[r["municipality_code"], r["municipality_name_short"], r["county_code"]] for r in kom])


def seats(gn_rows):
    """Coordinates of each kommun's seat: its largest PPLA/PPLA2/PPLC place in GeoNames."""
    best = {}
    for r in gn_rows:
        if r["feature_code"] in ("PPLA", "PPLA2", "PPLC") and r["kommun_code"]:
            pop = int(r["population"] or 0)
            k = r["kommun_code"]
            if k not in best or pop > best[k][0]:
                best[k] = (pop, float(r["latitude"]), float(r["longitude"]))
    return {k: (lat, lon) for k, (_, lat, lon) in best.items()}


def dist_km(a, b):
    (lat1, lon1), (lat2, lon2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 12742 * math.asin(math.sqrt(min(1.0, h)))


def places(geo):
    """data/places.csv: localities (postal localities and GeoNames places) with kommun and population.

    Postal localities (SCB-derived, CC0) are trusted; a GeoNames place (CC BY 4.0) whose kommun
    code disagrees with the postal locality of the same name is kept only when it is large and lies
    nearer its own kommun seat, because GeoNames carries homonyms with copied populations and some
    wrong kommun codes. Names equal to a kommun name are left out: the kommun wins for them.
    """
    kommun_names = {r["municipality_name_short"].lower()
                    for r in read_csv(os.path.join(geo, "municipality_county.csv"))}
    postal = defaultdict(Counter)
    spelled = {}
    for r in read_csv(os.path.join(geo, "postal_to_municipality.csv")):
        name = r["locality"].strip()
        if name:
            postal[name.lower()][r["municipality_code"]] += 1
            spelled.setdefault(name.lower(), name)
    with open(os.path.join(geo, "geonames-se-cities500.tsv"), encoding="utf-8", newline="") as f:
        gn = list(csv.DictReader(f, delimiter="\t"))
    seat = seats(gn)
    rows = {}  # (lower name, kommun) -> [name, population]

    def put(name, kommun, pop):
        key = (name.lower(), kommun)
        if key in rows:
            rows[key][1] = max(rows[key][1], pop)
        else:
            rows[key] = [name, pop]

    for low, counts in postal.items():
        total = sum(counts.values())
        top = counts.most_common(1)[0][1]
        for kommun, n in counts.items():
            # A few postcodes of a locality spill over a kommun border; those are not its kommun.
            if n == top or n / total >= 0.3:
                put(spelled[low], kommun, 0)
    for r in gn:
        kommun, name = r["kommun_code"], r["name"].strip()
        if not kommun or not name:
            continue
        pop = int(r["population"] or 0)
        here = (float(r["latitude"]), float(r["longitude"]))
        p = postal.get(name.lower())
        if p is None:
            # Unconfirmed by the postal data: keep it when it lies in reach of its kommun seat.
            if kommun in seat and dist_km(here, seat[kommun]) <= 120:
                put(name, kommun, pop)
        elif kommun in p:
            put(name, kommun, pop)
        elif pop >= 5000 and kommun in seat and all(
                k in seat and dist_km(here, seat[kommun]) < dist_km(here, seat[k]) for k in p):
            put(name, kommun, pop)
    out = sorted(([v[0], k[1], v[1]] for k, v in rows.items() if k[0] not in kommun_names),
                 key=lambda r: (r[0].lower(), r[0], r[1]))
    write_csv("places.csv", ["name", "kommun", "population"], out)


def main():
    geo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "data", "geo")
    os.makedirs(OUT, exist_ok=True)
    regions(geo)
    places(geo)


if __name__ == "__main__":
    main()
