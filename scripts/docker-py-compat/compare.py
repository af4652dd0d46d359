"""Compares docker-py integration results (pytest junit xml) of berthd and a reference Docker Engine.

Usage: compare.py RESULTS_DIR [FILE ...]
RESULTS_DIR holds berthd/<file>.xml and, when a reference ran, dockerd/<file>.xml.
Prints, per file, a markdown table (test, dockerd, berthd, berthd's failure message), then the counts,
and lists the tests that pass on dockerd but not on berthd (the ones that count as regressions).
"""
import os
import sys
import xml.etree.ElementTree as ET


def results(path):
    """{test name: (status, message)} from one junit xml file, or None if it is missing."""
    if not os.path.exists(path):
        return None
    out = {}
    for case in ET.parse(path).getroot().iter('testcase'):
        name = case.get('classname', '').split('.')[-1] + '::' + case.get('name', '')
        status, message = 'pass', ''
        for child in case:
            if child.tag in ('failure', 'error', 'skipped'):
                status = {'failure': 'FAIL', 'error': 'ERROR', 'skipped': 'skip'}[child.tag]
                message = (child.get('message') or (child.text or '')).strip().splitlines()
                message = message[0] if message else ''
                # An error in teardown after a failure: keep the failure.
                if status != 'ERROR' or name not in out:
                    break
        if name in out and out[name][0] != 'pass' and status == 'ERROR':
            continue
        out[name] = (status, message)
    return out


def cell(text):
    text = text.replace('|', '\\|').replace('\n', ' ')
    return text if len(text) <= 160 else text[:157] + '...'


def main():
    root = sys.argv[1]
    files = sys.argv[2:] or sorted({f[:-4] for e in ('berthd', 'dockerd') if os.path.isdir(os.path.join(root, e))
                                     for f in os.listdir(os.path.join(root, e)) if f.endswith('.xml')})
    totals = []
    regressions = []
    for f in files:
        berth = results(os.path.join(root, 'berthd', f + '.xml'))
        ref = results(os.path.join(root, 'dockerd', f + '.xml'))
        print(f'\n### {f}\n')
        print('| test | dockerd | berthd | berthd message |')
        print('|---|---|---|---|')
        names = list(dict.fromkeys(list((ref or {}).keys()) + list((berth or {}).keys())))
        for n in names:
            r = (ref or {}).get(n, ('-', ''))
            b = (berth or {}).get(n, ('-', ''))
            msg = b[1] if b[0] in ('FAIL', 'ERROR') else ''
            print(f'| {cell(n)} | {r[0]} | {b[0]} | {cell(msg)} |')
            if r[0] == 'pass' and b[0] != 'pass':
                regressions.append((f, n, b[0], msg))
        for engine, res in (('dockerd', ref), ('berthd', berth)):
            if res is None:
                continue
            count = {s: sum(1 for v in res.values() if v[0] == s) for s in ('pass', 'FAIL', 'ERROR', 'skip')}
            totals.append((f, engine, count))
    print('\n### Counts\n')
    print('| file | engine | pass | fail | error | skip |')
    print('|---|---|---|---|---|---|')
    for f, engine, c in totals:
        print(f"| {f} | {engine} | {c['pass']} | {c['FAIL']} | {c['ERROR']} | {c['skip']} |")
    if os.path.isdir(os.path.join(root, 'dockerd')):
        print(f'\n### Pass on dockerd, not on berthd: {len(regressions)}\n')
        for f, n, s, msg in regressions:
            print(f'- {f} {n}: {s} {cell(msg)}')


if __name__ == '__main__':
    main()
