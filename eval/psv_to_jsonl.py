#!/usr/bin/env python3
"""Turns a name-labelled corpus into the JSONL the tagger tests read.

Usage: python3 eval/psv_to_jsonl.py PREFIX < corpus.psv > corpus.jsonl
Each input line: prior|title|text|kommun names (comma-separated)|län names (comma-separated)
prior is a region code or '-'. Kommun names are official short names ("Lilla Edet"); län are
named by their short name ("Skåne", "Västra Götaland"). The län of every kommun is added, as the
tagger contract says. Labelling by name keeps the codes honest: a typo fails here, loudly.
"""
import csv
import json
import os
import sys

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def main():
    prefix = sys.argv[1]
    with open(os.path.join(DATA, "kommuner.csv"), encoding="utf-8") as f:
        kommuner = {r["name"]: (r["code"], r["lan"]) for r in csv.DictReader(f)}
    with open(os.path.join(DATA, "lan.csv"), encoding="utf-8") as f:
        lan = {r["short_name"]: r["code"] for r in csv.DictReader(f)}
    for n, line in enumerate(l for l in sys.stdin.read().splitlines() if l.strip()):
        prior, title, text, ks, ls = line.split("|")
        k_codes, l_codes = set(), set()
        for name in filter(None, (s.strip() for s in ks.split(","))):
            code, county = kommuner[name]
            k_codes.add(code)
            l_codes.add(county)
        for name in filter(None, (s.strip() for s in ls.split(","))):
            l_codes.add(lan[name])
        row = {"id": f"{prefix}{n + 1:03d}", "region": None if prior == "-" else prior,
               "title": title, "text": text, "kommuner": sorted(k_codes), "lan": sorted(l_codes)}
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
